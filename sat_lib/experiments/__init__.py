"""One module per chapter's computation; importing this package registers every chapter."""
from sat_lib.experiments._chapter import CHAPTERS, Chapter, register, resolve_params
from sat_lib.experiments import sat_matrix  # noqa: F401  (registers)

__all__ = ["CHAPTERS", "Chapter", "register", "resolve_params"]
