"""Wall time of ``claims --fast``, ``atlas --fast`` and ``train --fast`` on a quiet machine and beside one CPU-bound
process (a busy loop, holding one core of two), with the default thread policy (one torch thread,
``sandbox/core/threads.py``) and, for contrast, with ``--threads 2`` (torch's own default on 2 cores). The floor is
each command's quiet time with the default policy, measured in the same run; the issue's bar: at most 1.5x beside
the busy process. The cache is off, so every run computes.

    python benchmarks/bench_load.py              # all three commands
    python benchmarks/bench_load.py --quick      # train --fast only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "claims --fast": ["claims", "--fast", "--quiet"],
    "atlas --fast": ["atlas", "--fast", "--quiet"],
    "train --fast": ["train", "--fast", "--quiet", "--objective", "dsm", "--out", "{tmp}/dsm.pt"],
}


def timed(args: list[str], tmp: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sandbox", *(a.format(tmp=tmp) for a in args)], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "MCLR_SANDBOX_CACHE": "off"})
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train --fast only")
    names = ["train --fast"] if parser.parse_args().quick else list(COMMANDS)
    print(f"{'command':<15} {'quiet':>8} {'loaded':>8} {'ratio':>6}   {'loaded, --threads 2':>20} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            quiet = timed(COMMANDS[name], tmp)
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                loaded = timed(COMMANDS[name], tmp)
                two = timed([*COMMANDS[name], "--threads", "2"], tmp)
            finally:
                busy.kill()
                busy.wait()
            print(f"{name:<15} {quiet:7.1f}s {loaded:7.1f}s {loaded / quiet:5.2f}x   {two:19.1f}s {two / quiet:5.2f}x")
    print("times include starting the process (about 3 s); the cache is off")


if __name__ == "__main__":
    main()
