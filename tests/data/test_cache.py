from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from sat_lib.data import load_dataset
from sat_lib.data import _cache
from sat_lib.data._cache import ArrayCache, cache_key, fingerprint
from sat_lib.data.cifar10 import FORMATS
from tests.data._builders import write_cifar_python_archive, write_cifar_python_folder


def count_reads(monkeypatch, fmt_name: str) -> list[str]:
    """Record every decode by a CIFAR-10 format."""
    fmt = FORMATS[fmt_name]
    calls: list[str] = []
    original = fmt.read

    def read(path, split, **options):
        calls.append(split)
        return original(path, split, **options)

    monkeypatch.setattr(fmt, "read", read)
    return calls


def test_round_trip(tmp_path):
    data = load_dataset("cifar10", "test", roots=[write_cifar_python_folder(tmp_path / "src")])
    cache = ArrayCache(tmp_path / "cache")
    cache.save(data, "k" * 64)
    back = cache.load("cifar10", "test", "k" * 64)
    np.testing.assert_array_equal(back.images, data.images)
    np.testing.assert_array_equal(back.labels, data.labels)
    assert (back.classes, back.mean, back.std, back.source, back.split) == (
        data.classes, data.mean, data.std, data.source, data.split)
    assert cache.load("cifar10", "test", "j" * 64) is None


def test_second_load_does_not_touch_the_source(tmp_path, monkeypatch):
    archive = write_cifar_python_archive(tmp_path)
    first = load_dataset("cifar10", "test", roots=[archive], cache_dir=tmp_path / "cache")

    def fail(*args, **kwargs):
        raise AssertionError("the source was read although the cache holds it")

    monkeypatch.setattr(FORMATS["python-archive"], "read", fail)
    second = load_dataset("cifar10", "test", roots=[archive], cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(first.images, second.images)
    assert second.source == first.source


def test_changed_source_is_a_miss(tmp_path, monkeypatch):
    folder = write_cifar_python_folder(tmp_path / "src")
    calls = count_reads(monkeypatch, "python-folder")
    load_dataset("cifar10", "test", roots=[folder], cache_dir=tmp_path / "cache")
    load_dataset("cifar10", "test", roots=[folder], cache_dir=tmp_path / "cache")
    assert calls == ["test"]
    batch = folder / "test_batch"
    batch.write_bytes(batch.read_bytes())  # same bytes, new mtime
    os.utime(batch, ns=(batch.stat().st_atime_ns, batch.stat().st_mtime_ns + 10**9))
    load_dataset("cifar10", "test", roots=[folder], cache_dir=tmp_path / "cache")
    assert calls == ["test", "test"]
    load_dataset("cifar10", "train", roots=[folder], cache_dir=tmp_path / "cache")
    assert calls == ["test", "test", "train"]


def test_fingerprint_tracks_file_size_and_folder_contents(tmp_path):
    file = tmp_path / "f.bin"
    file.write_bytes(b"abc")
    before = fingerprint(file)
    file.write_bytes(b"abcd")
    assert fingerprint(file) != before
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a").write_bytes(b"1")
    before = fingerprint(folder)
    (folder / "b").write_bytes(b"")
    assert fingerprint(folder) != before


def test_key_depends_on_options_and_split(tmp_path):
    keys = {
        cache_key("imagenet_val", split, tmp_path, "val-folders", {"max_images": m})
        for split in ("val", "other")
        for m in (None, 10)
    }
    assert len(keys) == 4


def test_corrupt_entry_is_rebuilt(tmp_path, monkeypatch, caplog):
    folder = write_cifar_python_folder(tmp_path / "src")
    calls = count_reads(monkeypatch, "python-folder")
    cache_dir = tmp_path / "cache"
    load_dataset("cifar10", "test", roots=[folder], cache_dir=cache_dir)
    (entry,) = cache_dir.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="sat_lib.data._cache"):
        rebuilt = load_dataset("cifar10", "test", roots=[folder], cache_dir=cache_dir)
    assert calls == ["test", "test"] and len(rebuilt) == 6
    assert "unreadable" in caplog.text and entry.name in caplog.text
    load_dataset("cifar10", "test", roots=[folder], cache_dir=cache_dir)
    assert calls == ["test", "test"]  # the rebuilt entry is good again


def test_atomic_write_leaves_only_the_entry(tmp_path):
    folder = write_cifar_python_folder(tmp_path / "src")
    cache_dir = tmp_path / "cache"
    load_dataset("cifar10", "train", roots=[folder], cache_dir=cache_dir)
    assert [p.suffix for p in cache_dir.iterdir()] == [".npz"]


def failing_savez(file, **arrays):
    file.write(b"PK partial bytes")
    raise OSError(28, "No space left on device")


def test_failing_write_leaves_no_partial_file(tmp_path, monkeypatch):
    data = load_dataset("cifar10", "test", roots=[write_cifar_python_folder(tmp_path / "src")])
    cache_dir = tmp_path / "cache"
    monkeypatch.setattr(_cache.np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space"):
        ArrayCache(cache_dir).save(data, "k" * 64)
    assert list(cache_dir.iterdir()) == []


def test_load_survives_a_failing_cache_write(tmp_path, monkeypatch, caplog):
    folder = write_cifar_python_folder(tmp_path / "src")
    monkeypatch.setattr(_cache.np, "savez", failing_savez)
    with caplog.at_level(logging.WARNING):
        data = load_dataset("cifar10", "test", roots=[folder], cache_dir=tmp_path / "cache")
    assert len(data) == 6 and "could not cache" in caplog.text
    assert list((tmp_path / "cache").iterdir()) == []
