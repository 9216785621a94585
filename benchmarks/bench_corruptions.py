"""C-bar corruptions: sat_lib.corruptions.corrupt (batched torch) against a per-image numpy version of each.

For every registered corruption: images per second of ``corrupt`` on N CIFAR-size images (uint8, one call), and
of a straightforward numpy version written here that corrupts one image at a time the way the reference
(facebookresearch/augmentation-corruption, ``imagenet_c_bar/corrupt.py``) does — its formulas, its
``scipy.ndimage`` calls (rotate, zoom, gaussian_filter), skimage's anti-aliased line algorithm, its per-cell
and per-sparkle loops — but with each image's pixels as numpy arrays (the reference loops over pixels in Python,
which is slower still). Both are fed the same per-image parameters (the record's ``sample``), so the record
also reports how far apart the two outputs are (mean |Δ| in 0–255 levels); the numpy version rounds to uint8 as
``corrupt`` does (the reference truncates). The numpy version is timed on ``--baseline-n`` images (a rate, not
extrapolated). Writes a JSON record with the device name. Not a test: run it, read the ratio.

    python benchmarks/bench_corruptions.py                     # 10 000 images, every corruption
    python benchmarks/bench_corruptions.py --n 200 --out /tmp/corruptions.json
    python benchmarks/bench_corruptions.py --only lines,plasma_noise --severity max
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, rotate, zoom

from sat_lib.corruptions import CORRUPTIONS, corrupt
from sat_lib.provenance import default_device, device_name, now_iso, package_versions

from _record import write_record  # benchmarks/_record.py (the script folder is on sys.path)

# ------------------------------------------------------------------------------- per-image numpy, shared parts


def bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The reference's ``bilinear_interpolation`` at arrays of points: corners outside the image are 0."""
    h, w = image.shape[:2]
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]

    def at(r, c):
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        return np.where(ok[..., None], image[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], 0.0)

    top = at(r0, c0) * (1 - fc) + at(r0, c0 + 1) * fc
    bottom = at(r0 + 1, c0) * (1 - fc) + at(r0 + 1, c0 + 1) * fc
    return top * (1 - fr) + bottom * fr


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")


def spectral_noise(phases: np.ndarray, centre_phases: np.ndarray, power: np.ndarray) -> np.ndarray:
    """The reference's ``gen_noise`` for one field, from its drawn phases."""
    size = phases.shape[0]
    if size % 2 == 0:
        full = np.concatenate((phases, phases[::-1, ::-1]), axis=1)
    else:
        col = np.concatenate((centre_phases, np.array([[0.0]]), centre_phases[::-1, :]), axis=0)
        full = np.concatenate((phases, col, phases[::-1, ::-1]), axis=1)
    spectrum = power * (np.cos(full) + np.sin(full) * 1j)
    spectrum = np.roll(np.roll(spectrum, size // 2, axis=0), size // 2, axis=1)
    noise = np.real(np.fft.ifft2(spectrum))
    return noise / np.std(noise)


def centre_distance(size: int) -> np.ndarray:
    rows, cols = pixel_grid(size)
    return np.hypot(rows - size / 2, cols - size / 2)


def line_aa(r0: int, c0: int, r1: int, c1: int) -> tuple[list[int], list[int], list[float]]:
    """Zingl's anti-aliased Bresenham line, as ``skimage.draw.line_aa``: rows, columns, values."""
    rr, cc, val = [], [], []
    dc, dr = abs(c0 - c1), abs(r0 - r1)
    err = dc - dr
    sign_c, sign_r = (1 if c0 < c1 else -1), (1 if r0 < r1 else -1)
    ed = 1.0 if dc + dr == 0 else math.sqrt(dc * dc + dr * dr)
    c, r = c0, r0
    while True:
        cc.append(c), rr.append(r), val.append(abs(err - dc + dr) / ed)
        err_prime, c_prime = err, c
        if 2 * err_prime >= -dc:
            if c == c1:
                break
            if err_prime + dr < ed:
                cc.append(c), rr.append(r + sign_r), val.append(abs(err_prime + dr) / ed)
            err -= dr
            c += sign_c
        if 2 * err_prime <= dr:
            if r == r1:
                break
            if dc - err_prime < ed:
                cc.append(c_prime + sign_c), rr.append(r), val.append(abs(dc - err_prime) / ed)
            err += dc
            r += sign_r
    return rr, cc, [1.0 - v for v in val]


def ray_kernel(size, centre, lengths, rays, exponent):
    """The reference's sparkle kernel at every pixel of one image."""
    rows, cols = pixel_grid(size)
    dp0, dp1 = rows - centre[0], cols - centre[1]
    dist = np.hypot(dp0, dp1)
    d = (np.arctan2(dp1, dp0) + np.pi) / (2 * np.pi) * rays
    i = d.astype(int)
    f = d - i
    length = lengths[i % rays] + f * (lengths[(i + 1) % rays] - lengths[i % rays])
    g = (length ** 2 / (dist ** 2 + 1e-4)) ** exponent
    return np.clip((1 - (f - 0.5) ** 2) * g, 0, 1)[..., None]


# ------------------------------------------------------------------------------------ per-image numpy versions


def np_blue_noise_sample(img, p):
    noise = spectral_noise(p["phases"][0], p["centre_phases"][0], centre_distance(img.shape[0]))
    return img * (noise > p["threshold"])[..., None]


def np_brownish_noise(img, p):
    power = 1 / (centre_distance(img.shape[0]) ** 2 + 1)
    noise = np.stack([spectral_noise(p["phases"][c], p["centre_phases"][c], power) for c in range(3)], axis=2)
    return img + 255 * p["intensity"] * noise


def np_plasma_noise(img, p):
    rows, cols = pixel_grid(img.shape[0])
    x, y, rand = cols / p["scale"], rows / p["scale"], p["time"]
    i = np.array([1.0, 1.0, 1.0, 0.0])
    for _ in range(int(p["iterations"])):
        r = np.array([np.cos(y * i[0] - i[3] + rand / i[1]), np.sin(x * i[0] - i[3] + rand / i[1])]) / i[2]
        r += np.array([-r[1], r[0]]) * 0.3
        x, y = x + r[0], y + r[1]
        i *= np.array([1.93, 1.15, 2.25 - p["sharpness"], rand * i[1]])
    noise = np.stack((np.sin(x - rand), np.sin((x + y + np.sin(rand)) * 0.5), np.sin(y + rand)), axis=2)
    a = 255 * p["intensity"]
    return (1 - a / 255) * img + a * noise


def np_lines(img, p):
    size = img.shape[0]
    out = img.copy()
    for u_x, u_y, u_a in p["line_draws"]:
        x, y = size * u_x, size * u_y
        a = p["angle"] + 2 * np.pi * p["spread"] * (u_a - 0.5)
        s, c = np.sin(a) * size, np.cos(a) * size
        rr, cc, val = (np.array(v) for v in line_aa(int(x - c), int(y - s), int(x + c), int(y + s)))
        ok = (rr >= 0) & (cc >= 0) & (rr < size) & (cc < size)
        rr, cc, val = rr[ok], cc[ok], val[ok][:, None]
        out[rr, cc, :] = (1.0 - val) * out[rr, cc, :] + val * 128
    return out


def np_checkerboard_cutout(img, p):
    rows, cols = pixel_grid(img.shape[0])
    cos, sin, cell = np.cos(p["angle"]), np.sin(p["angle"]), p["cell"]
    nx, ny = (cos * rows + sin * cols) / cell, (-sin * rows + cos * cols) / cell
    draws = p["cell_draws"]
    reach = (draws.shape[0] - 1) // 2
    cut = draws[np.trunc(nx).astype(int) + reach, np.trunc(ny).astype(int) + reach] < p["fraction"]
    keep = ((nx % 2).astype(int) != (ny % 2).astype(int)) | ~cut
    return np.where(keep[..., None], img, 128.0)


def np_sparkles(img, p):
    out = img.copy()
    r = p["radius"]
    for centre, rays, z in zip(p["centres"], p["rays"], p["ray_draws"]):
        lengths = np.maximum(1, r + 0.25 * r * z[:rays])
        f = ray_kernel(img.shape[0], centre, lengths, int(rays), 1.0)
        out = out + f * (255 - out)
    return out


def np_inverse_sparkles(img, p):
    rays = int(p["rays"])
    lengths = p["radius"] + 0.25 * p["radius"] * p["ray_draws"][:rays]
    f = ray_kernel(img.shape[0], p["centre"], lengths, rays, (100 - p["amount"]) / 50.0)
    return 255 + f * (img - 255)


def np_circular_motion_blur(img, p):
    image, num = img / 255, 21
    out, total = np.zeros_like(image), 0.0
    for i in range(num):
        u = 2 * i / (num - 1) - 1
        factor = np.exp(-2 * u ** 2)
        out += factor * rotate(image, u * p["amount"], reshape=False)
        total += factor
    return np.clip(out / total, 0, 1) * 255


def np_transverse_chromatic_abberation(img, p):
    size = img.shape[0]
    out = img.copy()
    for c in range(3):
        zoomed = zoom(img[:, :, c], p["factors"][p["order"][c]], prefilter=False)
        edge = (zoomed.shape[0] - size) // 2
        out[:, :, c] = zoomed[edge:edge + size, edge:edge + size]
    return out


def np_ripple(img, p):
    rows, cols = pixel_grid(img.shape[0])
    a = p["amplitude"]
    r = rows + a * np.sin(2 * np.pi * rows / p["wavelengths"][0] + p["phases"][0])
    c = cols + a * np.sin(2 * np.pi * cols / p["wavelengths"][1] + p["phases"][1])
    return bilinear(img, r, c)


def np_water_drop(img, p):
    rows, cols = pixel_grid(img.shape[0])
    dr, dc = rows - p["centre"][0], cols - p["centre"][1]
    dist = np.hypot(dr, dc)
    amount = p["amplitude"] * np.sin(dist / p["wavelength"] * np.pi * 2 - p["phase"])
    amount = np.where(dist != 0, amount * p["wavelength"] / np.where(dist != 0, dist, 1), amount)
    amount = np.where(dist > p["radius"], 0.0, amount)
    return bilinear(img, rows + amount * dr, cols + amount * dc)


def np_pinch_and_twirl(img, p):
    size = img.shape[0]
    k = p["signs"].shape[0]
    side, radius = size // k, size // k / 2
    out = img.copy()
    for i in range(k):
        for j in range(k):
            top, left = j * side, i * side
            r, c = np.meshgrid(np.arange(top, top + side, dtype=float), np.arange(left, left + side, dtype=float),
                               indexing="ij")
            cy, cx = top + radius, left + radius
            dx, dy = r - cy, c - cx
            dist = np.hypot(dx, dy)
            inside = (dist <= radius) & (np.round(dist, 3) != 0)
            d = np.where(inside, dist, radius) / radius
            t = np.sin(np.pi * 0.5 * d) ** (-p["amount"])
            a = p["signs"][i, j] * p["angle"] * (1 - d) ** 2
            wr = cy + dx * t * np.cos(a) - dy * t * np.sin(a)
            wc = cx + dx * t * np.sin(a) + dy * t * np.cos(a)
            out[top:top + side, left:left + side] = bilinear(out, np.where(inside, wr, r), np.where(inside, wc, c))
    return out


def np_caustic_refraction(img, p):
    size = img.shape[0]
    rows, cols = pixel_grid(size)
    pt0, pt1 = rows / p["pattern"], cols / p["pattern"]
    p0, p1 = (pt0 % 1) * 6.28318530718 - 250, (pt1 % 1) * 6.28318530718 - 250
    i0, i1, c = p0.copy(), p1.copy(), 1.0
    for n in range(5):
        t = p["time"] * (1.0 - (3.5 / (n + 1)))
        i0, i1 = p0 + np.cos(t - i0) + np.sin(t + i1), p1 + np.sin(t - i1) + np.cos(t + i0)
        c = c + 1.0 / np.sqrt((p0 / (np.sin(i0 + t) / 0.005)) ** 2 + (p1 / (np.cos(i1 + t) / 0.005)) ** 2)
    caustics = np.clip(np.abs(1.17 - (c / 5.0) ** 1.4) ** 8.0, 0, 1)
    height = np.pad(gaussian_filter(caustics, sigma=p["softening"]), 1)
    north, south = height[1:-1, :-2], height[1:-1, 2:]
    west, east = height[:-2, 1:-1], height[2:, 1:-1]
    normal = np.stack((east - west, south - north, np.ones_like(east)), axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    # the reference's refract(): rotate (cos, sin, 0) of the refracted angle back with the inverse of the frame
    incident = np.array([0.0, 0.0, 1.0])
    angle = np.arccos(normal @ incident)
    out_angle = np.arcsin(np.sin(angle) / p["eta"])
    spectator = np.cross(incident, normal)
    spectator /= np.maximum(np.linalg.norm(spectator, axis=-1, keepdims=True), 1e-300)
    frame = np.stack((normal, np.cross(normal, spectator), spectator), axis=-2)
    unrotated = np.stack((np.cos(out_angle), np.sin(out_angle), np.zeros_like(angle)), axis=-1)
    straight = np.abs(normal @ incident) >= 1.0 - 1e-3
    frame[straight] = np.eye(3)
    refracted = np.einsum("...ij,...j->...i", np.linalg.inv(frame), unrotated)
    refracted[straight] = incident
    refracted = np.round(refracted * p["lens_scale"], 3)
    out = bilinear(img / 255, rows + refracted[..., 0], cols + refracted[..., 1])
    out += ((north - south) * p["lighting"] + (east - west) * p["lighting"])[..., None]
    return np.clip(out, 0, 1) * 255


NUMPY: dict[str, Callable[[np.ndarray, dict], np.ndarray]] = {
    name[3:]: fn for name, fn in globals().items() if name.startswith("np_") and callable(fn)
}


def numpy_batch(images: np.ndarray, params: dict, fn) -> np.ndarray:
    """One image at a time: slice its parameters, corrupt it in float64, round to uint8."""
    out = np.empty_like(images)
    for i, img in enumerate(images):
        p = {k: v[i].numpy().astype(np.float64) if v.dtype.is_floating_point else v[i].numpy()
             for k, v in params.items() if isinstance(v, torch.Tensor)}
        p.update({k: v for k, v in params.items() if not isinstance(v, torch.Tensor)})
        out[i] = np.clip(np.round(fn(img.astype(np.float64), p)), 0, 255).astype(np.uint8)
    return out


# ------------------------------------------------------------------------------------------------------- main


def images(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth random colour images (low-frequency fields plus a little texture), uint8 (n, size, size, 3)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=size, mode="bicubic")
    fine = torch.nn.functional.interpolate(torch.rand(n, 3, size // 4, size // 4, generator=g), size=size,
                                           mode="bilinear")
    x = (0.75 * coarse + 0.25 * fine).clamp(0, 1)
    return (x * 255).round().byte().permute(0, 2, 3, 1).contiguous().numpy()


def timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="images for the batched version (default 10000)")
    p.add_argument("--baseline-n", type=int, default=200, help="images the per-image numpy version is timed on")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--severity", choices=("min", "mid", "max"), default="max",
                   help="which end of the corruption's C-bar severity range (default: the strongest)")
    p.add_argument("--only", default="", help="comma-separated corruption names (default: all)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    device = default_device()
    names = [s for s in args.only.split(",") if s] or list(CORRUPTIONS)
    clean = images(max(args.n, args.baseline_n), args.size, args.seed)
    x_dev = torch.from_numpy(clean[:args.n]).to(device)
    nb = min(args.baseline_n, args.n)
    rows = {}
    for name in names:
        record = CORRUPTIONS[name]
        lo, hi = record.severity_range
        severity = {"min": lo, "mid": (lo + hi) / 2, "max": hi}[args.severity]
        corrupt(x_dev[:8], name, severity, args.seed)  # warm-up (builds cached operators)
        times = [timed(lambda: corrupt(x_dev, name, severity, args.seed), device)[1] for _ in range(args.repeats)]
        ours = args.n / statistics.median(times)
        params = record.sample(torch.Generator().manual_seed(args.seed), nb, args.size, severity)
        reference, sec = timed(lambda: numpy_batch(clean[:nb], params, NUMPY[name]), torch.device("cpu"))
        mine = record.apply(torch.from_numpy(clean[:nb]).permute(0, 3, 1, 2).float().div(255), params)
        mine = mine.mul(255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
        diff = np.abs(mine.astype(np.int16) - reference.astype(np.int16))
        rows[name] = {"severity": severity, "images_per_s": ours, "numpy_images_per_s": nb / sec,
                      "speedup_vs_numpy": ours / (nb / sec), "mean_abs_diff_vs_numpy": float(diff.mean()),
                      "share_pixels_off_by_more_than_2": float((diff > 2).mean())}
        r = rows[name]
        print(f"{name:34s} s={severity:<5g} {r['images_per_s']:>10.0f} img/s  numpy {r['numpy_images_per_s']:>8.0f} "
              f"img/s  × {r['speedup_vs_numpy']:>7.1f}   |Δ| {r['mean_abs_diff_vs_numpy']:.3f} "
              f"(>2: {100 * r['share_pixels_off_by_more_than_2']:.2f}%)", flush=True)
    record = {"benchmark": "corruptions", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(("torch", "numpy", "scipy")), "n": args.n, "baseline_n": nb,
              "size": args.size, "severity": args.severity, "seed": args.seed, "results": rows}
    write_record(record, f"corruptions-{device.type}", args.out)
    return record


if __name__ == "__main__":
    main()
