"""Validation from declarations: every parameter of every registered method, every setting of every claim and
every numeric option of every command has a declared limit (``validation.Limit``), and each refuses every bad
value its declaration generates, naming the setting, before any work."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from sandbox import claims, cli, methods
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
