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


def note(message: str) -> None:
    """One line of news from a long job (a model trained, an attack done) on stderr, unless quiet.

    ``SAT_PROGRESS=1`` shows it even when stderr is not a terminal (a background run's log)."""
    import sys

    if os.environ.get("SAT_PROGRESS") == "1" or (os.environ.get("SAT_PROGRESS") != "0"
                                                  and not os.environ.get("CI") and sys.stderr.isatty()):
        print(message, file=sys.stderr, flush=True)
