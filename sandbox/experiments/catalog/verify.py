"""The theorem, checked six ways: ``mclr-sandbox verify`` and its section of the results page."""

from __future__ import annotations

from typing import Any

from ...core.deferred import lazy
from ...core.tables import format_table
from ...core.validation import SEED
from ..experiment import Experiment, Option, Section, block, register

verification = lazy("sandbox.experiments.verification")

UNRESOLVED = 3          # the exit code when some check is unresolved and none failed


def _config(fast: bool) -> verification.VerifyConfig:
    return verification.VerifyConfig(fast=fast)


def _page(fast: bool) -> str:
    results = verification.run_all(fast=fast, progress=False)
    passed = sum(r.passed for r in results)
    return block(verification.summary_table(results)) + f"\n\n{passed}/{len(results)} checks passed."


def _run(config: verification.VerifyConfig, progress: bool) -> dict[str, Any]:
    return {"config": config, "results": verification.run_all(fast=config.fast, progress=progress,
                                                              mixtures=config.mixtures, seed=config.seed,
                                                              checks=config.checks)}


def _table(outcome: dict[str, Any], details: bool = False) -> str:
    results = outcome["results"]
    shown = results if details else [r for r in results if not r.passed]
    text = verification.summary_table(results)
    if shown:
        text += "\n\n" + format_table(("check", "setting", "residual", "tolerance", "status"),
                                      [(r.check, r.setting, f"{r.residual:.2e}", f"{r.tolerance:.2e}", r.status)
                                       for r in shown])
    return text


def _count(outcome: dict[str, Any], status: str) -> int:
    return sum(r.status == status for r in outcome["results"])


def _lines(outcome: dict[str, Any], details: bool = False) -> list[str]:
    results, failed, unresolved = outcome["results"], _count(outcome, "FAIL"), _count(outcome, "unresolved")
    lines = [*outcome["config"].skipped(), f"{len(results) - failed - unresolved}/{len(results)} checks passed, "
             f"{failed} failed, {unresolved} unresolved" + ("" if details else " (every row: --details)")]
    if unresolved:
        lines.append("unresolved: the check could not decide within its budget (its quadrature did not resolve, or "
                     "a trained field had not converged or could not tell the two scores apart): no evidence "
                     "against the theorem either way")
    return lines


def _status(outcome: dict[str, Any]) -> int:
    return 1 if _count(outcome, "FAIL") else UNRESOLVED if _count(outcome, "unresolved") else 0


def _one_mixture(config: verification.VerifyConfig, outcome: dict[str, Any]) -> Any:
    return config.mixtures[0] if config.mixtures and len(config.mixtures) == 1 else None


register(Experiment(
    "verify",
    sections=(Section("verify", "The theorem, checked six ways", "mclr-sandbox verify: every check on the zoo's "
                      "mixtures", _page),),
    summary="check that CFG is the optimum of weighted MCLR, six ways",
    description="Check that the CFG score is the unique optimum of sample-adaptive weighted MCLR, six independent ways "
                "(closed form, quadrature, Monte Carlo, learning, symbolic, distribution). Each row passes, FAILs (a "
                "resolved residual above tolerance, or a statistical rejection) or is unresolved (the check's own "
                "numerics fell short within its budget). Exit 0 if all pass, 1 if any fails, 3 if some are "
                "unresolved and none fails.",
    examples="""\
  mclr-sandbox verify --fast                # the theorem checked six ways, quick settings (< 60 s)
  mclr-sandbox verify --json results.json   # full grid, results also as JSON; exit 1 if any check fails
  mclr-sandbox verify --fast --mixture mine.json                  # the theorem on your own mixture
  mclr-sandbox verify --fast --only closed-form symbolic           # two of the checks""",
    config=_config, run=_run, table=_table, lines=_lines, status=_status, mixture=_one_mixture,
    as_json=lambda outcome: [r.as_dict() for r in outcome["results"]],
    options=(Option("--mixture", "mixtures", "check these mixtures (zoo names or .json files) instead of the zoo's",
                    many=True, metavar="NAME_OR_FILE", reads=True),
             Option("--details", "details", "print every row (setting) of every check, not only the per-check "
                    "summary and the failures", switch=True, view=True),
             Option("--only", "checks", "run only these checks, by the names of the summary's first column "
                    "(default: every one)", many=True, metavar="CHECK"),
             Option("--seed", "seed", "seed of every random draw (default 0): a new one re-draws the statistical "
                    "checks", limit=SEED, default=0)),
    fast="reduced grid and training (under a minute)",
    json="also write every result (with details) as JSON"))
