"""One module per chapter's computation; importing this package registers every chapter."""
from sat_lib.experiments._chapter import (CHAPTERS, Chapter, Retimer, book_chapters, chapter_result, execution_order,
                                          register, resolve_params)
# registration order is the book's order (execution_order() runs the status page last)
from sat_lib.experiments import status  # noqa: F401, E402
from sat_lib.experiments import sat_matrix  # noqa: F401, E402
from sat_lib.experiments import sat_components  # noqa: F401, E402
from sat_lib.experiments import sat_training  # noqa: F401, E402
from sat_lib.experiments import sat_attacks  # noqa: F401, E402
from sat_lib.experiments import sat_ensembles  # noqa: F401, E402
from sat_lib.experiments import sat_distillation  # noqa: F401, E402
from sat_lib.experiments import universality  # noqa: F401, E402
from sat_lib.experiments import salience  # noqa: F401, E402
from sat_lib.experiments import corruptions  # noqa: F401, E402
from sat_lib.experiments import diversity_ensembles  # noqa: F401, E402
from sat_lib.experiments import diversity_nas  # noqa: F401, E402
from sat_lib.experiments import diversity_training  # noqa: F401, E402
from sat_lib.experiments import similarity_atlas  # noqa: F401, E402
from sat_lib.experiments import measures  # noqa: F401, E402

__all__ = ["CHAPTERS", "Chapter", "Retimer", "book_chapters", "chapter_result", "execution_order", "register", "resolve_params"]
