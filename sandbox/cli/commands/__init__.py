"""The package's commands, one module each; importing them registers them, in the order of the command list."""

# isort: off
from . import figures, verify, separation, atlas, claims, train, evaluate, sample, compare  # noqa: F401
from . import results_page, explain, zoo  # noqa: F401
# isort: on
