"""sat_lib — the small core behind the sat-companion book.

Layers (a lower layer never imports a higher one):
``data`` → ``models`` → ``train``, ``attacks`` → ``measures`` → ``results`` → ``experiments`` → ``cli``.
"""
__version__ = "0.1.0"
