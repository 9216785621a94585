"""The environment of a test that runs a chapter: its own cache and results folders."""
from __future__ import annotations

import contextlib

import pytest


@contextlib.contextmanager
def project_dirs(tmp_path_factory, name: str, **env: str):
    """A fresh cache and results folder (``SAT_CACHE_DIR``, ``SAT_RESULTS_DIR``) under a temporary folder ``name``,
    and any other variables given, undone when the block ends however it ends; yields (folder, MonkeyPatch)."""
    tmp = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAT_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("SAT_RESULTS_DIR", str(tmp / "results"))
        for var, value in env.items():
            mp.setenv(var, value)
        yield tmp, mp
