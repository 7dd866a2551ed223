"""The package's commands, one module each; importing them registers them, in the order of the command list."""

# isort: off
from . import figures, experiments, train, sample, results_page  # noqa: F401
from . import explain, zoo, fit  # noqa: F401
# isort: on
