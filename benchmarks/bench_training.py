"""Time the default DSM training of one net (overlap_2d) and the ``--fast`` configuration, against a baseline
measured in the same run: the same number of bare Adam steps of an ``nn.Sequential`` of the same size on random
tensors (no data sampling, preconditioning, label dropout or EMA). The issue's floors: default under 2 minutes,
``--fast`` under 20 s, on 2 cores.

    python benchmarks/bench_training.py            # default + fast
    python benchmarks/bench_training.py --quick    # fast only
"""

from __future__ import annotations

import argparse
import time

import torch

from sandbox import training


def bare_steps(config: training.TrainConfig) -> float:
    """Seconds for ``config.steps`` Adam steps of a same-sized MLP on random inputs."""
    cfg = training.model_config(config.mixture, config)
    e = cfg.embedding
    layers: list[torch.nn.Module] = [torch.nn.Linear(cfg.dim + 2 * (e // 2) + e, cfg.width), torch.nn.SiLU()]
    for _ in range(cfg.depth - 1):
        layers += [torch.nn.Linear(cfg.width, cfg.width), torch.nn.SiLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(cfg.width, cfg.dim))
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    x = torch.randn(config.batch, layers[0].in_features)
    y = torch.randn(config.batch, cfg.dim)
    t0 = time.perf_counter()
    for _ in range(config.steps):
        loss = (net(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the fast configuration only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    configs = [("fast", training.TrainConfig().fast(), 20.0)]
    if not args.quick:
        configs.append(("default", training.TrainConfig(), 120.0))
    for name, config, floor in configs:
        result = training.train(config, progress=True)
        base = bare_steps(config)
        print(f"  {name:<8} {config.steps} steps x batch {config.batch}: {result.seconds:6.1f} s "
              f"(floor {floor:.0f} s: {'met' if result.seconds < floor else 'NOT met'}); bare MLP steps {base:5.1f} s; "
              f"ratio x{result.seconds / base:.2f}")


if __name__ == "__main__":
    main()
