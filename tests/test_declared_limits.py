"""Validation from declarations: every parameter of every registered method, every setting of every claim and
every numeric option of every command has a declared limit (``validation.Limit``), and each refuses every bad
value its declaration generates, naming the setting, before any work."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

import pytest
import torch

from sandbox import claims, cli, guidance, methods, zoo
from sandbox.core.validation import COUNT, Limit, check_config, limit


def _text(value: object) -> str:
    """How a user would type ``value`` on the command line (a tuple: comma-separated)."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize("name", methods.names())
def test_every_method_parameter_refuses_what_its_limit_refuses(name):
    method = methods.get(name)
    for param in (*method.params, *methods.STRENGTHS):      # w and lam too, where the rule ignores them
        declared = method.limit(param)
        assert declared.invalid(), (name, param)
        for bad in declared.invalid():
            with pytest.raises((ValueError, TypeError), match=param):
                method.bind(**{param: bad})
    for lo, hi in method.order:                 # the pair reversed
        with pytest.raises(ValueError, match=f"{lo} of method '{name}' must be below its {hi}"):
            method.bind(**{lo: method.params[hi], hi: method.params[lo]})
    assert method.bind() == method.bind(**method.params)    # the defaults obey their declarations


@pytest.mark.parametrize("name", claims.names())
def test_every_claim_setting_refuses_what_its_limit_refuses(name):
    config = claims.REGISTRY[name].fast
    for f in dataclasses.fields(config):
        declared = limit(f, f.default)
        for bad in declared.invalid():
            # from the API, and as --set text (where the text of a bad value is itself a value: a name "3")
            for given in (bad,) if declared.text else (bad, _text(bad)):
                with pytest.raises((ValueError, TypeError), match=f"{name}.{f.name}"):
                    claims.configure(name, fast=True, changes={f.name: given})
    assert check_config(config, name) == config


def test_a_bad_claim_setting_on_the_command_line_is_exit_2_naming_it(capsys):
    for item in ("monotone-over-mixtures.count=-5", "monotone-over-mixtures.ws=,", "monotone-over-mixtures.count=0",
                 "linear-cfg-tracks-cfg.low=9", "monotone-over-mixtures.n=1.5"):
        claim = item.split(".")[0]
        assert cli.main(["claims", "--fast", "--only", claim, "--set", item]) == 2, item
        err = capsys.readouterr().err
        assert item.split("=")[0] in err and err.count("\n") == 1, err


def _typed_options() -> list[tuple[str, str, Limit, object]]:
    """``(command, flag, limit, parse)`` for every option whose value is checked against a declared limit."""
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [(command, action.option_strings[-1], action.type.limit, action.type)
            for command, parser in sub.choices.items() for action in parser._actions
            if getattr(action.type, "limit", None) is not None]


def test_every_numeric_option_is_declared_and_refuses_its_bad_values():
    options = _typed_options()
    declared = {(command, flag) for command, flag, *_ in options}
    # no numeric option is parsed by a bare int or float (which would take nan, inf and negative counts)
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    bare = [(c, a.option_strings[-1]) for c, p in sub.choices.items() for a in p._actions if a.type in (int, float)]
    assert bare == [] and ("sample", "--n") in declared and ("claims", "--workers") in declared
    for *_, declared_limit, parse in options:
        for bad in declared_limit.invalid():
            with pytest.raises(argparse.ArgumentTypeError):
                parse(_text(bad))
    assert COUNT.check(3, "n") == 3


def _declared_rules() -> list:
    """Every rule of ``guidance`` declared by its signature (``validation.declared``)."""
    return [rule for rule in vars(guidance).values() if callable(rule) and hasattr(rule, "limits")
            and hasattr(rule, "order")]


def test_every_declared_rule_refuses_what_its_declaration_refuses_when_built_directly():
    rules = _declared_rules()
    assert {guidance.APG, guidance.CFG, guidance.ScheduledCFG, guidance.autoguidance} <= set(rules)
    for rule in rules:
        target = rule.__init__ if isinstance(rule, type) else rule
        # the inputs it combines (fields, a mixture, a class) come first, without defaults; None stands for them,
        # since the declared arguments are checked before the rule runs
        inputs = [None] * sum(p.default is inspect.Parameter.empty and p.name != "self"
                              for p in inspect.signature(target).parameters.values())
        assert rule.limits and set(rule.defaults) == set(rule.limits), rule
        for param, declared in rule.limits.items():
            for bad in declared.invalid():
                with pytest.raises((ValueError, TypeError), match=param):
                    rule(*inputs, **{param: bad})
        for lo, hi in rule.order:               # equal ends: each admitted alone, the pair is not
            with pytest.raises(ValueError, match=f"{lo} must be below {hi}"):
                rule(*inputs, **{lo: 1.0, hi: 1.0})


class _ExactNet(torch.nn.Module):
    """The mixture presented as a trained net: its class scores, the null class ``None`` being the unconditional
    score, and its exact noisy classifier as logits."""

    def __init__(self, gmm):
        super().__init__()
        self.gmm = gmm

    def score(self, x, sigma, c=None):
        return self.gmm.score(x, sigma, c)

    def logits(self, x, sigma):
        return self.gmm.log_class_posterior(x, sigma)


@pytest.mark.parametrize("name", [n for n in methods.names("guidance")
                                  if methods.get(n).exact is not None and methods.get(n).nets is not None])
def test_a_rule_with_nets_exact_builds_the_field_of_its_exact_version(name):
    # one declaration builds both versions: given nets that are the exact scores, the nets' field is the exact one,
    # at the defaults and at every variant the atlas sweeps
    gmm = zoo.get("overlap_2d")
    nets = {"dsm": _ExactNet(gmm), "classifier": _ExactNet(gmm)}
    method = methods.get(name)
    x = torch.randn(64, gmm.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2.0
    sigma = torch.logspace(-2, 1.5, 64, dtype=torch.float64)
    for variant in ({}, *method.sweep):
        params = {method.strength: 2.0, **variant}
        exact, from_nets = methods.field(name, gmm, 1, **params), methods.field(name, nets, 1, **params)
        torch.testing.assert_close(from_nets(x, sigma), exact(x, sigma), rtol=1e-10, atol=1e-10, msg=str(variant))
