"""The training recipe's switches, measured: ``mclr-sandbox recipe`` and its section of the results page."""

from __future__ import annotations

from ...core.deferred import lazy
from ..experiment import Experiment, Section, block, bullets, register, sized

training_recipe = lazy("sandbox.experiments.training_recipe")
recipe_effects = lazy("sandbox.experiments.recipe_effects")


def _config(fast: bool) -> training_recipe.RecipeConfig:
    return sized(training_recipe.RecipeConfig(), fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    result = training_recipe.run(config, progress=False)
    nets = config.nets
    return (f"{nets.mixture.name}, width {nets.train.width}, DSM {nets.train.steps} steps, fine-tunes "
            f"{nets.tune_steps} steps at w in {', '.join(f'{w:g}' for w in nets.ws)}; {len(nets.seeds)} seeds. The "
            f"recipe's row is each net's error (RMS over the strengths of sigma |s_net - s*|); every other row is its "
            f"ratio to that, seed by seed (geometric mean, 95% t-interval; - helps, + hurts: the whole interval "
            f"beyond 1 -+ 0.5%; = no effect: inside those bounds). Averages are chosen after training from the same "
            f"runs ({nets.train.snapshots} power-EMA snapshots per profile).\n\n"
            + block(recipe_effects.table(result)) + "\n\n" + bullets(recipe_effects.lines(result)))


register(Experiment(
    "recipe",
    sections=(Section("recipe", "What the training recipe buys",
                      "mclr-sandbox recipe: each switch of the training loop (learning-rate schedule, loss weighting, "
                      "the MCLR losses' negatives, the average of the weights) against the trained atlas's recipe",
                      _page),),
    summary="the training recipe's switches, each measured against the recipe",
    description="Train the trained atlas's DSM net and fine-tunes with one switch of the training loop changed at a "
                "time (constant learning rate, epsilon-prediction loss weighting, all negative labels for the MCLR "
                "losses), and compare what each run returns under each average of its weights (fixed EMA, the last "
                "iterate, edm2's power-function EMA at several widths, chosen post hoc from snapshots), seed by seed, "
                "by the score error to each net's exact optimum.",
    examples="""\
  mclr-sandbox recipe --fast                           # tiny nets, two seeds (seconds)
  mclr-sandbox recipe --workers 2 --json recipe.json   # the full comparison (tens of minutes)
  mclr-sandbox recipe --set sigma_rels=0.05,0.1,0.15   # other post-hoc EMA widths from the same runs""",
    config=_config,
    run=lambda config, progress: training_recipe.run(config, progress),
    header=lambda config, result: f"{config.nets.mixture.name}; {len(config.nets.seeds)} seeds",
    mixture=lambda config, result: config.nets.mixture,
    table=lambda result: recipe_effects.table(result),
    lines=lambda result: recipe_effects.lines(result),
    as_json=lambda result: result,
    fast="tiny nets and runs, two seeds, weighted MCLR the one fine-tune (seconds)",
    json="also write every net's errors as JSON"))
