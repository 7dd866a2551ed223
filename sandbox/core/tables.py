"""Fixed-width text tables for the command line (one formatter for every report)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, a dashed rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)]
    return "\n".join(line.rstrip() for line in lines)


FLOOR = 1e-9   # |x| below this is rounding noise of an exact zero: no measure a table shows is nonzero and this small


def number(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits; ``0`` below ``FLOOR``, so that a quantity that is zero in theory
    prints the same on every machine (its rounding noise differs with the CPU and the thread count)."""
    return "0" if abs(x) < FLOOR else f"{x:.{digits}g}"


def estimate(value: float, half_width: float) -> str:
    """A table cell ``value ±half-width``: the value to 4 significant digits, the half-width to 2 (``number``)."""
    return f"{number(value)} ±{number(half_width, 2)}"
