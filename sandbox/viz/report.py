"""The measured results, generated: ``mclr-sandbox report`` writes every table the docs show from the experiments'
results (cached like everything else) into one page, and ``--check`` recomputes it and compares.

    docs/results.md        the full settings (what the README links to)
    docs/results-fast.md   the same page with ``--fast`` settings (what the test suite checks)

A section is registered once (``section``), like a figure: its name, title and a function ``render(fast) -> str``
(Markdown). Tables are fixed-width text.

``--check`` compares the committed page with a fresh one line by line, numbers as numbers and the text between
them as words (runs of spaces are column padding, which moves with the width of a neighbouring number). The
tolerance belongs to the quantity as the code prints it, never to the digits found in the file being checked:

    a number        within one unit of the last digit the *fresh* page prints for it (4 significant digits for a
                    measure, 2 for its half-width, 3 in the claims' reasons: the rounding a last-bit difference
                    between CPUs or thread counts can flip)
    rounding noise  two numbers both below ``tables.FLOOR`` (1e-9) in magnitude are equal: an exact zero computed
                    in floating point (a residual, a distance between identical fields) is noise of that size,
                    different on every machine, and tables print it as 0
    wall times      numbers on lines that begin with ``time:`` differ run to run and are not compared

So ``0.8255`` rewritten as ``1e+00``, or ``13.85`` as ``1e+01``, differs: the fresh value is 0.8255 printed to
0.0001.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.files import atomic_open
from ..core.tables import FLOOR
from ..core.version import __version__
from ..experiments import claims, comparison, frame_sensitivity, separation, trained_atlas, verification
from . import printed

TIME = "time: "


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    summary: str
    render: Callable[[bool], str]


SECTIONS: dict[str, Section] = {}


def section(name: str, title: str, summary: str) -> Callable[[Callable[[bool], str]], Callable[[bool], str]]:
    """Register ``render(fast) -> str`` as the section ``name`` of the results page."""
    def register(render: Callable[[bool], str]) -> Callable[[bool], str]:
        if name in SECTIONS:
            raise ValueError(f"report section {name!r} is registered already")
        SECTIONS[name] = Section(name, title, summary, render)
        return render
    return register


def _block(text: str) -> str:
    return f"```text\n{text}\n```"


def _lines(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


@section("verify", "The theorem, checked six ways", "mclr-sandbox verify: every check on the zoo's mixtures")
def _verify(fast: bool) -> str:
    results = verification.run_all(fast=fast, progress=False)
    passed = sum(r.passed for r in results)
    return _block(verification.summary_table(results)) + f"\n\n{passed}/{len(results)} checks passed."


@section("separation", "Separation and diversity on overlap_2d",
         "mclr-sandbox separation: CFG, the MCLR optima and exact q_0 over w and lambda, class-averaged, 95% intervals")
def _separation(fast: bool) -> str:
    config = separation.SweepConfig()
    config = config.fast() if fast else config
    rows = separation.sweep(config, progress=False)
    return (f"n = {config.n} per class, Heun {config.steps} steps.\n\n"
            + _block(separation.table(rows, tuple(k for k in separation.COLUMNS if k != "seconds_per_1000")))
            + "\n\n" + _lines(separation.trend_summary(rows)))


@section("atlas", "The guidance atlas, exact fields (crowded_4d)",
         "mclr-sandbox atlas --exact-only: every rule and training-time optimum of the atlas, sampled from its exact "
         "field, against exact CFG and exact q_0")
def _atlas(fast: bool) -> str:
    config = separation.SweepConfig.atlas(fast=fast)
    rows = separation.sweep(config, progress=False)
    columns = tuple(k for k in separation.ATLAS_COLUMNS if k != "seconds_per_1000")
    times = ", ".join(f"{r.method} {r.metrics['seconds_per_1000'].value:.3g} s" for r in separation.defaults(rows)
                      if "seconds_per_1000" in r.metrics and r.w == config.ws[-1])
    swept = f" Then each rule's parameter sweep ({len(config.variants)} variants)." if config.variants else ""
    return (f"n = {config.n} per class, Heun {config.steps} steps, w in {list(config.ws)}.{swept}\n\n"
            + _block(separation.table(rows, columns)) + f"\n\n{TIME}seconds per 1000 samples at w = "
            f"{config.ws[-1]:g}: {times}")


@section("frames", "Frame sensitivity (exact fields)",
         "each rule with a nonlinear step applied in every standard frame: E|s_F - s_paper| / E|s_paper| over "
         "x ~ p_sigma(.|c=0), w = 2 (linear rules: 0 in every frame, tests/test_frames.py)")
def _frames(fast: bool) -> str:
    config = frame_sensitivity.Config()
    config = config.fast() if fast else config
    return (f"{config.n} points per sigma, class 0; the paper's frame is 0 by definition.\n\n"
            + _block(frame_sensitivity.table(frame_sensitivity.run(config), config)))


@section("atlas-nets", "The guidance atlas, trained nets (crowded_4d)",
         "mclr-sandbox atlas: each training-time method as a fine-tune of the DSM net (one net for every w), against "
         "its own exact optimum and exact CFG and q_0; mean and 95% t-interval over seeds")
def _atlas_nets(fast: bool) -> str:
    config = trained_atlas.NetsConfig()
    config = config.fast() if fast else config
    result = trained_atlas.run(config, progress=False)
    keys = tuple(k for k in trained_atlas.MEASURES if k != "seconds_per_1000")
    return (f"{len(config.seeds)} seed(s), fine-tunes of {config.tune_steps} steps, n = {config.n} per class.\n\n"
            + _block(trained_atlas.table(result, keys)) + "\n\n" + _lines(trained_atlas.check_lines(result)))


@section("claims", "Claims checked",
         f"mclr-sandbox claims --replicates {claims.runner.REPLICATES[False]}: each published claim with its computed "
         f"verdict, under {claims.runner.REPLICATES[False]} seeds ({claims.runner.REPLICATES[True]} on the fast page)")
def _claims(fast: bool) -> str:
    verdicts = claims.run(fast=fast, replicates=claims.runner.REPLICATES[fast])
    rows = "\n".join(f"| {name} | {claims.REGISTRY[name].reference} | **{v.verdict}** | {claims.tally(v)} | "
                     f"{v.reason} |" for name, v in verdicts.items())
    replicates = claims.runner.REPLICATES[fast]
    k = claims.quorum(replicates)
    return (f"Each claim measured under {replicates} seeds (its own, then steps of {claims.STRIDE}); a verdict "
            f"stands when at least {k} of them say it and every other seed is undecided (one seed's verdict is wrong "
            f"with probability at most 5%, so {k} or more wrong seeds of {replicates} have probability below 5%); "
            f"seeds that say different verdicts make it `undecided`: the claim sits at its threshold.\n\n"
            "| claim | reference | verdict | seeds | the numbers that decided it (a seed that says the verdict) |\n"
            "|---|---|---|---|---|\n" + rows)


@section("compare", "DSM vs MCLR nets (overlap_2d)",
         "mclr-sandbox compare: a DSM net and its MCLR fine-tunes against the exact conditional and CFG answers")
def _compare(fast: bool) -> str:
    config = comparison.CompareConfig()
    config = config.fast() if fast else config
    result = comparison.compare(config, progress=False)
    return (f"w = {config.w:g}, seeds {list(config.seeds)}.\n\n" + _block(comparison.table(result)) + "\n\n"
            + _lines(comparison.acceptance_lines(result)))


def build(fast: bool = False, only: list[str] | None = None, kept: dict[str, str] | None = None) -> str:
    """The page: a header saying how it was made, then every section (or those in ``only``); ``kept``: sections
    already written (title -> text), used as they are for the sections not in ``only``."""
    names = list(SECTIONS) if not only else only
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ValueError(f"report sections must be drawn from {list(SECTIONS)}, got {unknown}")
    kept = kept or {}
    shown = [n for n in SECTIONS if n in names or SECTIONS[n].title in kept]
    head = [_heading(fast), "",
            f"Generated by `mclr-sandbox report{' --fast' if fast else ''}` (mclr-sandbox {__version__}) from the "
            "experiments' results; do not edit by hand: `mclr-sandbox report --check` recomputes the page and fails "
            "on any number that differs by more than one unit of the last digit the code prints for it (numbers "
            f"below {FLOOR:g} are rounding noise of an exact zero; lines starting with `time:` are wall times, not "
            "compared).", ""]
    head += [f"- [{SECTIONS[n].title}](#{_anchor(SECTIONS[n].title)})" for n in shown]
    body = [f"## {SECTIONS[n].title}\n\n*{SECTIONS[n].summary}.*\n\n{SECTIONS[n].render(fast)}" if n in names
            else kept[SECTIONS[n].title] for n in shown]
    return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"


def _heading(fast: bool) -> str:
    return f"# Measured results: {'fast settings (`--fast`)' if fast else 'full settings'}"


def sections_of(page: str) -> dict[str, str]:
    """The sections of a written page, by title: each from its ``## `` heading to the next."""
    parts = page.rstrip("\n").split("\n\n## ")[1:]
    return {part.split("\n", 1)[0]: "## " + part for part in parts}


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def default_path(fast: bool) -> Path:
    return Path("docs") / ("results-fast.md" if fast else "results.md")


def write(path: str | Path, fast: bool = False, only: list[str] | None = None) -> Path:
    """Write the page to ``path``; with ``only``, rewrite just those sections of the page already there and keep
    the others as they are (no page there: a page of those sections alone)."""
    path = Path(path)
    kept = None
    if only and path.is_file():
        page = path.read_text()
        if not page.startswith(_heading(fast) + "\n"):
            raise ValueError(f"{path} is not a page of {'fast' if fast else 'full'} settings: rewrite its sections "
                             f"with{'out' if not fast else ''} --fast, or write the whole page")
        kept = sections_of(page)
    text = build(fast, only, kept)
    with atomic_open(path) as fh:
        fh.write(text)
    return path


def differences(committed: str, fresh: str) -> list[str]:
    """Where ``fresh`` differs from ``committed`` beyond the module docstring's tolerance: one line each."""
    old, new = committed.splitlines(), fresh.splitlines()
    if len(old) != len(new):
        return [f"{len(old)} lines committed, {len(new)} computed"]
    out = []
    for i, (a, b) in enumerate(zip(old, new), 1):
        if a == b:
            continue
        if not printed.same_line(a, b, numbers=not a.lstrip("- ").startswith(TIME)):
            out.append(f"line {i}: committed {a.strip()[:100]!r}, computed {b.strip()[:100]!r}")
    return out


def check(path: str | Path, fast: bool = False) -> list[str]:
    """The differences between the page at ``path`` and a fresh build (empty: it matches)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--check compares with {path}, which does not exist (write it first: mclr-sandbox report)")
    return differences(path.read_text(), build(fast))


__all__ = ["SECTIONS", "Section", "build", "check", "default_path", "differences", "section", "sections_of",
           "write"]
