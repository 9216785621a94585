"""Progress bars for long loops: shown on a terminal, silent in CI logs and in executed notebooks."""
from __future__ import annotations

import os

from tqdm import tqdm as _tqdm


def progress(iterable=None, **kwargs):
    """``tqdm`` that is off when ``SAT_PROGRESS=0`` or ``CI`` is set, and off when stderr is not a terminal."""
    quiet = os.environ.get("SAT_PROGRESS") == "0" or bool(os.environ.get("CI"))
    kwargs.setdefault("disable", True if quiet else None)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return _tqdm(iterable, **kwargs)
