"""Printed numbers compared as numbers: what ``report --check`` and ``figures --check`` use for text.

A line of text is words and numbers. Two lines are the same when their words are (runs of spaces are padding, which
moves with the width of a neighbouring number) and each number is within one unit of the last digit the *fresh*
line prints for it: the rounding a last-bit difference between CPUs or thread counts can flip. Two numbers both
below ``tables.FLOOR`` (1e-9) in magnitude are equal (an exact zero computed in floating point is noise of that
size). So ``0.8255`` rewritten as ``1e+00`` differs: the fresh value is 0.8255 printed to 0.0001.
"""

from __future__ import annotations

import re

from ..core.tables import FLOOR

NUMBER = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def same_number(committed: str, fresh: str) -> bool:
    """``committed`` within one unit of ``fresh``'s last printed digit, or both rounding noise."""
    a, b = float(committed), float(fresh)
    if abs(a) < FLOOR and abs(b) < FLOOR:
        return True
    if b == 0.0:                 # printed 0: an exact zero or noise below the floor, both below it
        return False
    mantissa, _, exponent = fresh.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return abs(a - b) <= 1.0001 * unit


def same_text(committed: str, fresh: str) -> bool:
    """The same words, and space at the same ends (padding may differ in width, not in presence)."""
    def ends(t: str) -> tuple[bool, bool]:
        return t[:1].isspace(), t[-1:].isspace()
    return committed.split() == fresh.split() and ends(committed) == ends(fresh)


def same_line(committed: str, fresh: str, numbers: bool = True) -> bool:
    """The same words and, unless ``numbers`` is False (wall times), the same numbers (module docstring)."""
    a, b = NUMBER.split(committed), NUMBER.split(fresh)
    return len(a) == len(b) and all(same_text(x, y) if k % 2 == 0 else (not numbers or same_number(x, y))
                                    for k, (x, y) in enumerate(zip(a, b)))
