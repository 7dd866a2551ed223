"""Wall time of the full ``claims`` and of the full trained atlas (3 seeds x every fine-tune, their optima and
measures) on a local Dask cluster of 1 and of 2 worker processes (``--workers N``, ``sandbox/core/sweeps.py``),
each from an empty cache folder of its own, so every unit computes. The baseline is the 1-worker run of the same
sweep in the same session (the same code path, one process doing the units); the issue's bar is at least 1.6x
faster with 2 workers on this 2-core machine. ``--serial`` adds the in-process serial run (no Dask) for contrast.

    python benchmarks/bench_sweeps.py               # both sweeps, 1 and 2 workers (about 25 min on 2 cores)
    python benchmarks/bench_sweeps.py --only claims # one of them
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time

SWEEPS = {
    "claims": lambda n: [sys.executable, "-m", "sandbox", "claims", "--quiet",
                         *(["--workers", str(n)] if n else [])],
    # the atlas command also runs the exact atlas: the trained part alone, through the API, in its own process
    "trained atlas": lambda n: [sys.executable, __file__, "--trained-atlas", str(n)],
}


def trained_atlas(workers: int) -> None:
    from sandbox import sweeps
    from sandbox import trained_atlas as atlas

    with sweeps.local(workers) if workers else contextlib.nullcontext():
        atlas.run(atlas.NetsConfig(), progress=False)


def timed(command: list[str]) -> float:
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "MCLR_SANDBOX_CACHE": cache})
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(SWEEPS), help="one sweep only")
    parser.add_argument("--serial", action="store_true", help="also time the in-process serial run (no Dask)")
    parser.add_argument("--trained-atlas", type=int, metavar="WORKERS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trained_atlas is not None:
        return trained_atlas(args.trained_atlas)
    names = [args.only] if args.only else list(SWEEPS)
    print(f"{'sweep':<14} {'serial':>8} {'1 worker':>9} {'2 workers':>10} {'speed-up':>9}")
    for name in names:
        serial = f"{timed(SWEEPS[name](0)):7.1f}s" if args.serial else "-"
        one = timed(SWEEPS[name](1))
        two = timed(SWEEPS[name](2))
        print(f"{name:<14} {serial:>8} {one:8.1f}s {two:9.1f}s {one / two:8.2f}x", flush=True)
    print(f"{os.cpu_count()} cores; times include starting the process and the cluster; empty cache each run")


if __name__ == "__main__":
    main()
