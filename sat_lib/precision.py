"""Precision and memory-layout choices shared by the trainer, attacks and evaluation.

A *layout* is a numeric precision (``fp32`` or ``bf16`` autocast) and a memory format (contiguous or
channels-last). Which is fastest depends on the model and the processor: on an AVX512-BF16 CPU bf16 +
channels-last trains most of our models 1.4–2.6× faster than fp32, but ConvNeXt-atto runs *slower* in bf16.
So ``precision="auto"`` measures: a few forward+backward steps of each candidate layout on a copy of the model
(the model, its weights and the global random state are untouched), and the fastest wins. The choice is cached
in memory and in ``<cache>/calibration.json``, keyed by the model's structure, the input shape, the processor,
the thread count and the torch version, so a model is calibrated once per machine.

``fp32`` and ``bf16`` force a precision (the memory format is still the faster of the two for that precision
on a CPU; channels-last on CUDA).
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn

from sat_lib._files import atomic_path
from sat_lib.provenance import processor_name

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")
CALIBRATION_VERSION = 1
"""Bumped when what "auto" measures changes; part of every calibration key (and so of weights keys)."""


@dataclass(frozen=True)
class Layout:
    """A resolved precision and memory format."""

    precision: str  # "fp32" | "bf16"
    channels_last: bool

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def __str__(self) -> str:
        return f"{self.precision}{'+cl' if self.channels_last else ''}"

    @classmethod
    def parse(cls, text: str) -> Layout:
        """The layout ``str(layout)`` wrote: ``fp32``, ``fp32+cl``, ``bf16`` or ``bf16+cl``."""
        if str(text) not in LAYOUTS:
            raise ValueError(f"a layout is one of {', '.join(LAYOUTS)}; got {text!r}")
        precision, _, suffix = str(text).partition("+")
        return cls(precision, suffix == "cl")


LAYOUTS = tuple(str(Layout(p, cl)) for p in PRECISIONS[1:] for cl in (False, True))
"""Every layout's name, as ``str(layout)`` writes it and ``Layout.parse`` reads it."""


def _check(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def cpu_supports_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX512-BF16 / AMX); emulated bf16 is slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision without measuring: ``auto`` is bf16 on CUDA and fp32 on a CPU.

    Code that can measure (training, attacks, evaluation of a known model) uses ``choose_layout``."""
    _check(precision)
    if precision == "auto":
        return "bf16" if torch.device(device).type == "cuda" else "fp32"
    return precision


def autocast(precision: str, device: torch.device):
    """An autocast context for ``bf16``; a no-op for ``fp32``."""
    device = torch.device(device)
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels-last on CUDA (tensor cores want NHWC); contiguous on the CPU unless a layout says otherwise."""
    return torch.channels_last if torch.device(device).type == "cuda" else torch.contiguous_format


def to_device_layout(x: torch.Tensor, device: torch.device, layout: Layout | None = None) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if x.ndim != 4:
        return x
    fmt = layout.memory_format if layout is not None else memory_format(device)
    return x.contiguous(memory_format=fmt)


# --------------------------------------------------------------------------------------------- calibration
def candidates(precision: str, device: torch.device) -> list[Layout]:
    """The layouts ``choose_layout`` times for a requested precision on ``device``."""
    _check(precision)
    device = torch.device(device)
    if device.type == "cuda":
        return [Layout(resolve_precision(precision, device), True)]
    if precision == "auto":
        precs = ["fp32", "bf16"] if cpu_supports_bf16() else ["fp32"]
    else:
        precs = [precision]
    return [Layout(p, cl) for p in precs for cl in (False, True)]


def calibration_key(model: nn.Module, input_shape: tuple[int, ...], precision: str, device: torch.device) -> str:
    """What decides the fastest layout: the model's structure, the input, the processor and thread count."""
    device = torch.device(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else processor_name()
    spec = [CALIBRATION_VERSION, repr(model), list(input_shape), precision, device.type, where,
            torch.get_num_threads(), torch.__version__]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:20]


def _step_seconds(model: nn.Module, x: torch.Tensor, layout: Layout, steps: int) -> float:
    xl = x.contiguous(memory_format=layout.memory_format)
    model.to(memory_format=layout.memory_format)
    times = []
    for i in range(steps + 1):  # the first is warm-up
        t0 = time.perf_counter()
        with autocast(layout.precision, x.device):
            loss = model(xl).float().logsumexp(1).mean()
        loss.backward()
        model.zero_grad(set_to_none=True)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    return min(times)


class Calibrations:
    """Chosen layouts by calibration key: in memory, and in a JSON file when ``path`` is set."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._mem: dict[str, dict] = {}

    def _read(self) -> dict[str, dict]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as err:  # an unreadable file is a miss
            log.warning("ignoring unreadable calibration file %s (%s)", self.path, err)
            return {}

    def get(self, key: str) -> dict | None:
        with self._lock:
            if key not in self._mem:
                self._mem.update(self._read())
            return self._mem.get(key)

    def put(self, key: str, record: dict) -> None:
        """Store one choice. Several processes (Dask workers) share the file: a lock file serialises their
        read-merge-write, so no process drops another's entry."""
        with self._lock:
            self._mem[key] = record
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                data = {**self._read(), key: record}
                with atomic_path(self.path) as tmp:
                    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))


_DEFAULT: Calibrations | None = None


def default_calibrations() -> Calibrations:
    """The project's calibration store: ``SAT_CALIBRATION_FILE``, else ``<cache>/calibration.json``
    (``SAT_CACHE_DIR`` or ``_config.yml``). Re-resolved when those settings change."""
    global _DEFAULT
    path = os.environ.get("SAT_CALIBRATION_FILE")
    if not path:
        from sat_lib.config import project_config

        try:
            path = project_config().cache_dir / "calibration.json"
        except Exception as err:  # no project config: calibrate in memory only
            log.debug("no project config for the calibration file (%s)", err)
            path = None
    path = Path(path) if path else None
    if _DEFAULT is None or _DEFAULT.path != path:
        _DEFAULT = Calibrations(path)
    return _DEFAULT


CALIBRATION_BATCH = 128
_MEASURING: contextvars.ContextVar[bool] = contextvars.ContextVar("sat_lib.precision.measuring", default=True)
_PINNED: contextvars.ContextVar[Layout | None] = contextvars.ContextVar("sat_lib.precision.pinned", default=None)


@contextlib.contextmanager
def unmeasured():
    """Within this context ``choose_layout`` times nothing and stores nothing: a stored choice is used, and where
    there is none the first candidate (fp32, contiguous on a CPU; the one candidate on CUDA). For a dry run
    (``sat_lib.dryrun``), which must be quick and write nothing."""
    token = _MEASURING.set(False)
    try:
        yield
    finally:
        _MEASURING.reset(token)


@contextlib.contextmanager
def pinned(layout: Layout):
    """Within this context ``choose_layout`` returns ``layout`` wherever the requested precision's candidates include
    it, without timing or storing anything; a call whose candidates do not (an fp32 attack under a bf16 pin) chooses
    as usual. For redoing stored work in the layout it recorded (``sat_lib.retime``) where this machine's
    calibration now picks another."""
    token = _PINNED.set(layout)
    try:
        yield
    finally:
        _PINNED.reset(token)


def choose_layout(model: nn.Module, sample_shape: tuple[int, ...], precision: str = "auto",
                  device: torch.device | str | None = None, *, steps: int = 2,
                  store: Calibrations | None = None) -> Layout:
    """The fastest layout for training, attacking and evaluating ``model`` on images of ``sample_shape``
    (C, H, W; a leading batch dimension is ignored).

    One candidate: returned without timing. Otherwise each candidate runs ``steps`` timed forward+backward
    passes of a batch of ``CALIBRATION_BATCH`` on a deep copy of the model under a forked random state, and the
    choice is stored. Works inside ``torch.inference_mode``."""
    _check(precision)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    cands = candidates(precision, device)
    pin = _PINNED.get()
    if pin is not None and pin in cands:
        return pin
    if len(cands) == 1:
        return cands[0]
    sample_shape = tuple(sample_shape)[-3:]
    input_shape = (CALIBRATION_BATCH, *sample_shape)
    store = store if store is not None else default_calibrations()
    key = calibration_key(model, sample_shape, precision, device)
    hit = store.get(key)
    if hit is not None:
        return Layout(hit["precision"], bool(hit["channels_last"]))
    if not _MEASURING.get():
        return cands[0]
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        probe = copy.deepcopy(model).to(device).train()
        gen = torch.Generator(device=device).manual_seed(0)
        x = torch.rand(tuple(input_shape), device=device, generator=gen)
        seconds = {str(c): _step_seconds(probe, x, c, steps) for c in cands}
        del probe
    best = min(cands, key=lambda c: seconds[str(c)])
    store.put(key, {**asdict(best), "seconds_per_step": seconds, "model": type(model).__name__,
                    "input_shape": list(input_shape), "threads": torch.get_num_threads()})
    log.info("layout for %s %s: %s (%s)", type(model).__name__, tuple(input_shape), best, seconds)
    return best


__all__ = ["PRECISIONS", "Layout", "Calibrations", "autocast", "candidates", "choose_layout", "cpu_supports_bf16",
           "memory_format", "resolve_precision", "to_device_layout", "calibration_key", "unmeasured", "pinned", "LAYOUTS"]
