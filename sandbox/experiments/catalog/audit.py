"""Production code under exact test: ``mclr-sandbox audit`` and its section of the results page."""

from __future__ import annotations

from ...core.deferred import lazy
from ...core.validation import RISING_COUNTS, SEED, WHOLE
from ..experiment import MIXTURE_HELP, Experiment, Option, Section, block, bullets, register, sized

library_audit = lazy("sandbox.experiments.library_audit")


def _config(fast: bool) -> library_audit.AuditConfig:
    return sized(library_audit.AuditConfig(), fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    result = library_audit.audit(config)
    return (f"{config.mixture.name}, class {config.c}, {config.n} exact states.\n\n"
            + block(library_audit.tables(result)) + "\n\n" + bullets(library_audit.lines(result)))


register(Experiment(
    "audit",
    sections=(Section("audit", "Library code under exact test (diffusers)",
                      "mclr-sandbox audit: diffusers' schedulers against the exact probability-flow path, its "
                      "guiders against their papers' rules, on the exact mixture (needs the diffusers extra)",
                      _page),),
    summary="diffusers' schedulers and guiders against exact answers",
    description="Run diffusers' schedulers on the exact mixture as its pipelines run them and compare their samples "
                "with the exact probability-flow path from the same states (error and order of convergence); "
                "compare its guiders' guided predictions with their papers' rules at exact predictions. Needs the "
                "diffusers extra: pip install 'mclr-sandbox[diffusers]'.",
    examples="""\
  mclr-sandbox audit --fast                 # every scheduler and guider, three step counts (seconds)
  mclr-sandbox audit --json audit.json      # 5 to 100 steps; every number as JSON
  mclr-sandbox audit --mixture mine.json --class 1 --steps 4 8 16 32   # your own mixture and step counts""",
    config=_config,
    run=lambda config, progress: library_audit.audit(config),
    header=lambda config, result: (f"{config.mixture.name} ({config.mixture.fingerprint}), class {config.c}, "
                                   f"{config.n} exact states, diffusers {result['diffusers']}"),
    table=lambda result: library_audit.tables(result),
    lines=lambda result: library_audit.lines(result),
    as_json=lambda result: result,
    mixture=lambda config, result: config.mixture,
    options=(Option("--mixture", "mixture", MIXTURE_HELP, metavar="NAME_OR_FILE", reads=True),
             Option("--class", "c", "the class whose model the schedulers sample (default 0)", limit=WHOLE,
                    metavar="C"),
             Option("--steps", "steps", "step counts, increasing (default 5 10 20 50 100; with --fast, 5 10 20)",
                    limit=RISING_COUNTS, many=True, metavar="N"),
             Option("--seed", "seed", "seed of the exact states (default 0)", limit=SEED)),
    sweeps=False,
    fast="three step counts and 64 states (seconds)",
    json="also write every error, order and guider comparison as JSON"))
