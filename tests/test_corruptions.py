"""sat_lib.corruptions: every registered corruption goes through the same checks (generated from the registry),
plus the spline-based ones against the scipy.ndimage calls the reference makes."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sat_lib.corruptions import (
    C_BAR_SETS,
    CORRUPTIONS,
    DESIGN_DIVERSITY,
    SEVERITY_TABLES,
    corrupt,
    corruption_table,
)
from sat_lib.corruptions import _api
from sat_lib.corruptions._spline import _rotation_blur_operator, spline_prefilter, zoom_matrix
from sat_lib.registry import UnknownNameError

NAMES = list(CORRUPTIONS)
REQUIRED = {"lines", "plasma_noise", "checkerboard_cutout", "caustic_refraction", "blue_noise_sample",
            "brownish_noise", "circular_motion_blur", "inverse_sparkles", "pinch_and_twirl", "ripple", "sparkles",
            "transverse_chromatic_abberation", "water_drop"}


def natural_images(n: int = 16, size: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth colour images with some texture (low-frequency fields plus a finer one), uint8 (n, size, size, 3)."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=size, mode="bicubic", align_corners=False)
    fine = F.interpolate(torch.rand(n, 3, max(size // 4, 2), max(size // 4, 2), generator=g), size=size,
                         mode="bilinear", align_corners=False)
    x = (0.75 * coarse + 0.25 * fine).clamp(0, 1)
    return (x * 255).round().byte().permute(0, 2, 3, 1).contiguous().numpy()


CLEAN = natural_images()


def mean_change(out: np.ndarray, clean: np.ndarray = CLEAN) -> float:
    return float(np.abs(out.astype(np.float64) - clean.astype(np.float64)).mean())


def three_severities(name: str) -> tuple[float, float, float]:
    lo, hi = CORRUPTIONS[name].severity_range
    return lo, (lo + hi) / 2, hi


def mid(name: str) -> float:
    return three_severities(name)[1]


# ------------------------------------------------------------------------------------------------ the registry


def test_registry_holds_the_required_corruptions_with_reference_severities():
    assert REQUIRED <= set(NAMES)
    for name, record in CORRUPTIONS.items():
        assert record.severities, name
        for table, severities in record.severities.items():
            assert SEVERITY_TABLES[table][name] == severities
            assert all(0 < s <= 10 for s in severities) and list(severities) == sorted(severities)
        in_c_bar = [s for s in C_BAR_SETS if s in record.severities]
        assert in_c_bar or name == "water_drop", f"{name} is in no C-bar set"
        lo, hi = record.severity_range
        assert 0 < lo < hi <= 10
    assert CORRUPTIONS["lines"].severity_range == (0.5, 2.5)
    assert CORRUPTIONS["plasma_noise"].severity_range == (4.75, 10.0)
    assert CORRUPTIONS["caustic_refraction"].severity_range == (2.35, 9.15)
    assert CORRUPTIONS["checkerboard_cutout"].severities["imagenet_c_bar"] == (2.0, 3.0, 4.0, 5.0, 6.0)
    assert set(corruption_table().index) == set(NAMES)


def test_design_diversity_strengths_are_in_the_reference_scans():
    assert set(DESIGN_DIVERSITY) <= set(NAMES)
    for name, severity in DESIGN_DIVERSITY.items():
        assert severity in CORRUPTIONS[name].severities["imagenet_new_corruptions"], name


def test_unknown_name_raises_key_error_with_close_matches():
    with pytest.raises(KeyError) as info:
        corrupt(CLEAN, "line", 1.0)
    assert isinstance(info.value, UnknownNameError)
    assert "'lines'" in str(info.value) and "did you mean" in str(info.value)
    with pytest.raises(KeyError, match="transverse_chromatic_abberation"):
        corrupt(CLEAN, "transverse_chromatic_aberration", 1.0)


@pytest.mark.parametrize("severity", [0, -1.0, 10.5, math.nan, math.inf, "high", True, None])
def test_bad_severity_names_corruption_value_and_range(severity):
    with pytest.raises(ValueError) as info:
        corrupt(CLEAN, "ripple", severity)
    message = str(info.value)
    assert "'ripple'" in message and repr(severity) in message and "(0, 10]" in message
    assert "cifar10_c_bar uses 5.5–8" in message


def test_nan_and_read_only_inputs():
    x = torch.from_numpy(CLEAN[:2]).permute(0, 3, 1, 2).float() / 255
    x[0, 0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="expected float images in"):
        corrupt(x, "lines", 1.0)
    read_only = CLEAN[:2].copy()
    read_only.flags.writeable = False
    assert corrupt(read_only, "lines", 1.0, device="cpu").shape == read_only.shape


def test_severity_ten_is_valid():
    out = corrupt(CLEAN[:2], "lines", 10)
    assert out.shape == CLEAN[:2].shape


@pytest.mark.parametrize("images,kind,fragment", [
    (CLEAN.tolist(), TypeError, "numpy.ndarray"),
    (CLEAN.astype(np.int64), ValueError, "dtype"),
    (CLEAN.transpose(0, 3, 1, 2), ValueError, "permute(0, 2, 3, 1)"),
    (CLEAN[0], ValueError, "(n, H, W, 3)"),
    (CLEAN.astype(np.float32) / 255, ValueError, "permute(0, 3, 1, 2)"),
    (CLEAN.transpose(0, 3, 1, 2).astype(np.float32), ValueError, "expected float images in [0, 1]"),
    (CLEAN[:, :, :24], ValueError, "square"),
    (CLEAN[:, :4, :4], ValueError, "at least 8"),
])
def test_bad_images_say_what_was_expected(images, kind, fragment):
    with pytest.raises(kind) as info:
        corrupt(images, "lines", 1.0)
    assert "corrupt" in str(info.value) and fragment in str(info.value)


# ------------------------------------------------------------------------------ every corruption, same checks


@pytest.mark.parametrize("name", NAMES)
def test_uint8_in_uint8_out(name):
    out = corrupt(CLEAN, name, mid(name), seed=3)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == CLEAN.shape
    out_t = corrupt(torch.from_numpy(CLEAN), name, mid(name), seed=3)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.uint8
    np.testing.assert_array_equal(out_t.numpy(), out)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float_in_float_out_in_unit_range_and_matches_uint8(name, dtype):
    x = torch.from_numpy(CLEAN).permute(0, 3, 1, 2).to(dtype) / 255
    out = corrupt(x, name, mid(name), seed=3)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == x.shape
    assert out.min() >= 0 and out.max() <= 1
    as_uint8 = out.mul(255).round().byte().permute(0, 2, 3, 1).numpy().astype(int)
    assert np.abs(as_uint8 - corrupt(CLEAN, name, mid(name), seed=3)).max() <= 1
    out_np = corrupt(x.numpy(), name, mid(name), seed=3)
    assert isinstance(out_np, np.ndarray) and out_np.dtype == x.numpy().dtype


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_by_seed(name):
    s = mid(name)
    a, b, c = corrupt(CLEAN, name, s, seed=1), corrupt(CLEAN, name, s, seed=1), corrupt(CLEAN, name, s, seed=2)
    np.testing.assert_array_equal(a, b)
    if CORRUPTIONS[name].stochastic:
        assert not np.array_equal(a, c)
    else:
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_each_image_draws_its_own_parameters(name):
    same = np.repeat(CLEAN[:1], 6, axis=0)
    out = corrupt(same, name, mid(name))
    distinct = {out[i].tobytes() for i in range(len(out))}
    if CORRUPTIONS[name].stochastic:  # the aberration has only 3! = 6 outcomes, so some may repeat
        assert len(distinct) >= (3 if name == "transverse_chromatic_abberation" else 6)
    else:
        assert len(distinct) == 1


@pytest.mark.parametrize("name", NAMES)
def test_mean_change_grows_with_severity(name):
    changes = [mean_change(corrupt(CLEAN, name, s, seed=0)) for s in three_severities(name)]
    assert 0 < changes[0] < changes[1] < changes[2], changes


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [24, 33])
def test_other_sizes_and_tiny_batches(name, size):
    x = natural_images(3, size, seed=1)
    out = corrupt(x, name, mid(name))
    assert out.shape == x.shape and out.dtype == np.uint8 and mean_change(out, x) > 0
    assert corrupt(x[:0], name, mid(name)).shape == (0, size, size, 3)


def test_chunks_cover_the_batch_and_stay_seeded(monkeypatch):
    monkeypatch.setattr(_api, "CHUNK_PIXELS", 5 * 32 * 32)  # chunks of 5 images
    a, b = corrupt(CLEAN, "sparkles", 3.0, seed=4), corrupt(CLEAN, "sparkles", 3.0, seed=4)
    np.testing.assert_array_equal(a, b)
    assert all(mean_change(a[i:i + 1], CLEAN[i:i + 1]) > 0 for i in range(len(CLEAN)))


def test_input_is_not_modified():
    x = torch.from_numpy(CLEAN.copy()).permute(0, 3, 1, 2).float() / 255
    before = x.clone()
    for name in NAMES:
        corrupt(x, name, mid(name))
    assert torch.equal(x, before)


# ------------------------------------------------------------------------ the spline corruptions against scipy


@pytest.mark.parametrize("factor", [1.0, 1.05, 1.25, 1.5])
def test_zoom_matrix_matches_scipy_zoom_without_prefilter(factor):
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(0).random((32, 32))
    zoomed = ndimage.zoom(x, factor, prefilter=False)
    edge = (zoomed.shape[0] - 32) // 2
    z = zoom_matrix(32, factor).double().numpy()
    np.testing.assert_allclose(z @ x @ z.T, zoomed[edge:edge + 32, edge:edge + 32], atol=1e-5)


def test_spline_prefilter_matches_scipy_spline_filter():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(1).random((16, 16))
    p = spline_prefilter(16).numpy()
    np.testing.assert_allclose(p @ x @ p.T, ndimage.spline_filter(x, order=3, mode="mirror"), atol=1e-10)


def test_circular_motion_blur_matches_weighted_scipy_rotations():
    ndimage = pytest.importorskip("scipy.ndimage")
    amount, size = 6.6, 32
    image = CLEAN[:2].astype(np.float32) / 255
    expected, total = np.zeros_like(image), 0.0
    for i in range(21):
        u = 2 * i / 20 - 1
        expected += math.exp(-2 * u * u) * ndimage.rotate(image, u * amount, axes=(2, 1), reshape=False)
        total += math.exp(-2 * u * u)
    expected = np.clip(expected / total, 0, 1)
    ours = corrupt(torch.from_numpy(image).permute(0, 3, 1, 2), "circular_motion_blur", amount / 1.5)
    np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), expected, atol=2e-4)
    prefilter, blur = _rotation_blur_operator(size, amount)
    assert prefilter.shape == (size, size) and blur.shape == (size * size, size * size)


# ---------------------------------------------------------------------------------------------------- on a GPU


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_cuda_gives_the_cpu_images(name):
    """The parameters are drawn on the CPU, so only float rounding may differ (a pixel near a threshold or a
    cell border can flip)."""
    cpu = corrupt(CLEAN, name, mid(name), seed=5).astype(int)
    cuda = corrupt(torch.from_numpy(CLEAN).cuda(), name, mid(name), seed=5)
    assert cuda.is_cuda and cuda.dtype == torch.uint8
    diff = np.abs(cuda.cpu().numpy().astype(int) - cpu)
    assert diff.mean() < 0.05 and (diff > 2).mean() < 0.005


def test_subset_positions_are_a_seeded_spread_not_the_first_images():
    from sat_lib.zoo import one_per_class, subset_positions

    pos = subset_positions(1000, 200, seed=0)
    assert len(set(pos)) == 200 and (np.diff(pos) > 0).all() and pos.max() > 800
    np.testing.assert_array_equal(pos, subset_positions(1000, 200, seed=0))
    assert not np.array_equal(pos, subset_positions(1000, 200, seed=1))
    np.testing.assert_array_equal(subset_positions(5, 5, seed=0), np.arange(5))
    with pytest.raises(ValueError, match="between 1 and"):
        subset_positions(5, 6, seed=0)
    labels = np.repeat(np.arange(4), 5)  # stored class by class
    shown = one_per_class(labels, 6)
    assert labels[shown].tolist() == [0, 1, 2, 3, 0, 1]
