"""sat_lib — the small core behind the sat-companion book.

Layers (a lower layer never imports a higher one):
``data`` → ``models`` → ``train``, ``attacks`` → ``measures`` → ``results`` → ``experiments`` → ``cli``.
"""
__version__ = "0.1.0"

import warnings as _warnings

# Libraries we import use ``tqdm.auto``; in a notebook kernel without ipywidgets it warns that widget bars are
# unavailable. sat_lib draws no widget bars (see sat_lib.progress), so that warning is noise in the book.
_warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")
