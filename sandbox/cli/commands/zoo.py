"""``mclr-sandbox zoo``: list the named example mixtures."""

from __future__ import annotations

import argparse

from ...core.tables import format_table
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox zoo                          # list the named example mixtures"""


def run(args: argparse.Namespace) -> int:
    from ...core import zoo

    rows = []
    for name, make in zoo.ZOO.items():
        gmm = make()
        summary = (make.__doc__ or "").strip().splitlines()[0]
        rows.append((name, str(gmm.dim), str(gmm.num_classes), str([m.shape[0] for m in gmm.means]), summary))
    print(format_table(("name", "d", "K", "components", "what it is"), rows))
    return 0


register(Command(
    "zoo", "list the named example mixtures",
    "List the named example mixtures.",
    EXAMPLES, run,
    progress=False))
