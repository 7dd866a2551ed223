"""Wall time and page faults of sampler runs with the allocator policy (``sandbox/core/allocator.py``: freed memory
kept for reuse) against glibc's own behaviour (``MCLR_SANDBOX_MALLOC=system``), the baseline, timed in the same run,
each in a fresh process: a Heun run of exact CFG on crowded_4d (4000 samples, 32 steps, after a warm-up run), and the
same with Dask's worker setting ``MALLOC_TRIM_THRESHOLD_=65536``.

    python benchmarks/bench_allocator.py
"""

from __future__ import annotations

import os
import subprocess
import sys

RUN = """
import resource, time
from sandbox import methods, samplers, zoo
from sandbox.core.schedules import edm_sigmas
gmm = zoo.crowded_4d()
field = methods.field("cfg", gmm, 0, w=4.0)
def run():
    return samplers.heun_ode(field, gmm.sample(4000, c=0, sigma=80.0, generator=0), edm_sigmas(32, 0.002, 80.0))
run()
best, faults = float("inf"), 0
for _ in range(5):
    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    run()
    best = min(best, time.perf_counter() - t0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
print(best, faults)
"""


def measure(env: dict[str, str]) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    seconds, faults = out.stdout.split()
    return float(seconds), int(faults)


def main() -> None:
    print(f"{'environment':<32} {'glibc (s)':>10} {'faults':>8} {'policy (s)':>11} {'faults':>8} {'speed-up':>9}")
    for name, env in (("default", {}), ("MALLOC_TRIM_THRESHOLD_=65536", {"MALLOC_TRIM_THRESHOLD_": "65536"})):
        base, base_faults = measure({**env, "MCLR_SANDBOX_MALLOC": "system"})
        kept, kept_faults = measure(env)
        print(f"{name:<32} {base:10.3f} {base_faults:8d} {kept:11.3f} {kept_faults:8d} {base / kept:8.2f}x")
    print("best of 5 runs after a warm-up, one process per column")


if __name__ == "__main__":
    main()
