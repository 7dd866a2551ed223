"""How good a model of its data each fitted zoo mixture is: held-out log-likelihood against one Gaussian per class.

For each data set bundled with scikit-learn that the zoo fits (``zoo.bundled``), a quarter of each class is held
out, the zoo's fit (``core.fitting``: components by BIC) is repeated on the rest, and both it and one Gaussian per
class (the same floor) are scored on the held-out rows with the sandbox's exact ``log_prob(x, c)``:

    mean over held-out rows of class c of log p(x | c),   averaged over the classes

(nats per row). ``forced`` adds fits with a given number of components, to show what BIC's choice avoids.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import fitting, zoo


@dataclass(frozen=True)
class HeldoutConfig:
    """The data sets (zoo names), with ``forced``: ``(name, components)`` fits with that many components per class."""

    datasets: tuple[str, ...] = ("digits", "digits_pca", "wine")
    forced: tuple[tuple[str, int], ...] = (("digits", 2),)
    fraction: float = 0.25
    seed: int = 0

    def fast(self) -> HeldoutConfig:
        return self          # a few seconds at full size

    def compute(self, progress: bool = False) -> list[dict[str, object]]:
        """One record per fit: ``{data, d, rows, components (per class), chosen_by, mixture, gaussian, better}``
        (``mixture``, ``gaussian``: mean held-out log-likelihood per row over the classes; ``better``: classes
        where the mixture beats the Gaussian)."""
        out = []
        for name, components in [*((n, None) for n in self.datasets), *self.forced]:
            X, y, _ = zoo.bundled(name)
            rows = fitting.heldout(X, y, fraction=self.fraction, split_seed=self.seed, components=components,
                                   seed=self.seed)
            k = len(rows)
            out.append({"data": name, "d": int(X.shape[1]), "rows": int(X.shape[0]),
                        "components": [r["components"] for r in rows],
                        "chosen_by": "BIC" if components is None else "given",
                        "mixture": sum(r["mixture"] for r in rows) / k,
                        "gaussian": sum(r["gaussian"] for r in rows) / k,
                        "better": sum(r["mixture"] > r["gaussian"] + 1e-9 for r in rows), "classes": k})
        return out
