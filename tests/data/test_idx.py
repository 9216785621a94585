from __future__ import annotations

import gzip

import numpy as np
import pytest

from sat_lib.data import CorruptDatasetError
from sat_lib.data._idx import read_idx
from tests.data._builders import idx_bytes


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.gz" if gz else "a")
    path.write_bytes(gzip.compress(idx_bytes(array)) if gz else idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path, 3), array)


def test_wrong_magic_names_file_and_values(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)))
    with pytest.raises(CorruptDatasetError, match=r"bad IDX magic number 0x00000801, expected 0x00000803") as info:
        read_idx(path, 3)
    assert info.value.path == path


def test_truncated_data(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((3, 2, 2), dtype=np.uint8))[:-1])
    with pytest.raises(CorruptDatasetError, match="12 bytes of data, found 11"):
        read_idx(path, 3)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((30, 8, 8), dtype=np.uint8)))[:-10])
    with pytest.raises(CorruptDatasetError, match="images.gz: cannot decompress"):
        read_idx(path, 3)


def test_too_short(tmp_path):
    path = tmp_path / "tiny"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(CorruptDatasetError, match="too short"):
        read_idx(path, 1)
