"""Command line: ``mclr-sandbox`` (also ``python -m sandbox``).

Each subcommand is a ``Command`` record (``registry``) registered by its module in ``commands/`` (a plug-in
registers its own the same way); ``main`` builds the parser from the registry in one loop and runs one command,
every failure one line.
"""

from ..experiments.catalog.verify import UNRESOLVED
from .main import build_parser, main
from .registry import FOLDER, REGISTRY, Command, register

__all__ = ["FOLDER", "REGISTRY", "UNRESOLVED", "Command", "build_parser", "main", "register"]
