"""What training the many small nets of a sweep as one batched ensemble could gain (#31, deliverable 4), measured
before building it: one Adam step of ``E`` copies of the trained atlas's denoiser network, one by one (today's
training, the baseline) against the same ``E`` nets as one ensemble (their parameters stacked by
``torch.func.stack_module_state``, the forward pass ``vmap``-ed over them, one Adam over the stacks), timed in the same
run, at the atlas's rows per step (``batch`` x 2: MCLR-type losses evaluate positives and negatives) and widths
32, 64, 128. A full training step of the atlas (data, preconditioning, loss, EMA) is timed too, to say how much of
it the network is; and the physical floor, the matrix products of one step's forward pass at the same sizes.

The gain is the ratio one-by-one / ensemble: it is the ceiling of what batching can give a training run, since
everything outside the network is per net either way.

    python benchmarks/bench_ensemble.py            # widths 32, 64, 128; E = 3 (the atlas's seeds) and 6
    python benchmarks/bench_ensemble.py --quick    # width 128, E = 3, fewer repetitions
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import replace

import torch
from torch.func import functional_call, stack_module_state

from sandbox import training
from sandbox.learn.models import Denoiser

STEPS = 40


def inputs(e: int, rows: int, dim: int, classes: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(e, rows, dim, generator=g), torch.randn(e, rows, generator=g),
            torch.randint(0, classes + 1, (e, rows), generator=g), torch.randn(e, rows, dim, generator=g))


def one_by_one(nets: list[torch.nn.Module], data: tuple[torch.Tensor, ...], steps: int) -> float:
    """Seconds per step for every net, each its own forward, backward and Adam step (today's training)."""
    opts = [torch.optim.Adam(n.parameters(), lr=1e-3) for n in nets]
    x, c_noise, label, target = data
    t0 = time.perf_counter()
    for _ in range(steps):
        for i, (net, opt) in enumerate(zip(nets, opts)):
            loss = (net(x[i], c_noise[i], label[i]) - target[i]).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (time.perf_counter() - t0) / steps


def ensemble(nets: list[torch.nn.Module], data: tuple[torch.Tensor, ...], steps: int) -> float:
    """Seconds per step for the same nets as one ensemble: stacked parameters, a vmap-ed forward, one Adam."""
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")
    opt = torch.optim.Adam(list(params.values()), lr=1e-3)

    def forward(p: dict, b: dict, x: torch.Tensor, c_noise: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (x, c_noise, label))

    batched = torch.vmap(forward)
    x, c_noise, label, target = data
    t0 = time.perf_counter()
    for _ in range(steps):
        # the sum over nets of each net's mean loss: each net's gradient is its own loss's
        loss = (batched(params, buffers, x, c_noise, label) - target).square().mean((1, 2)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def floor(net: torch.nn.Module, rows: int, e: int, steps: int) -> float:
    """Seconds for the matrix products of ``e`` nets' forward passes (no bias, activation or backward)."""
    weights = [m.weight.detach().T.contiguous() for m in net.modules() if isinstance(m, torch.nn.Linear)]
    xs = [torch.randn(rows, w.shape[0]) for w in weights]
    t0 = time.perf_counter()
    for _ in range(steps * e):
        for x, w in zip(xs, weights):
            x @ w
    return (time.perf_counter() - t0) / steps


def training_step(width: int, steps: int) -> float:
    """Seconds per step of a real fine-tune of the atlas (weighted MCLR, every w), from a DSM net of that width."""
    base = training.TrainConfig(mixture="crowded_4d", steps=steps, width=width)
    dsm = training.train(replace(base, steps=2), progress=False).model
    tune = replace(base.fine_tune("weighted-mclr", ws=(0.5, 1.0, 2.0, 4.0)), steps=steps)
    return training.train(tune, init=dsm, progress=False).seconds / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="width 128 and E = 3 only, fewer repetitions")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = STEPS // 4 if args.quick else STEPS
    widths, sizes = ((128,), (3,)) if args.quick else ((32, 64, 128), (3, 6))
    config = training.TrainConfig(mixture="crowded_4d")
    rows = 2 * config.batch
    print(f"torch {torch.__version__}, 1 thread; crowded_4d's denoiser network, {rows} rows per net and step "
          f"(batch {config.batch}, positives and negatives); {steps} steps each")
    for width in widths:
        model = Denoiser(training.model_config(config.mixture, replace(config, width=width)))
        full = training_step(width, steps)
        for e in sizes:
            nets = [copy.deepcopy(model.backbone) for _ in range(e)]
            for i, net in enumerate(nets):
                torch.manual_seed(i)
                for p in net.parameters():
                    torch.nn.init.normal_(p, std=0.1)
            data = inputs(e, rows, net.net[0].in_features - 2 * (model.config.embedding // 2) - model.config.embedding,
                          model.config.num_classes)
            one_by_one(nets, data, 2), ensemble(nets, data, 2)          # warm-up
            single, stacked = one_by_one(nets, data, steps), ensemble(nets, data, steps)
            print(f"  width {width:3d}, E = {e}: one by one {1e3 * single:6.1f} ms/step, ensemble "
                  f"{1e3 * stacked:6.1f} ms/step: gain x{single / stacked:.2f}; the network is "
                  f"{100 * single / (e * full):.0f}% of a full training step ({1e3 * full:.1f} ms); matmul floor "
                  f"{1e3 * floor(model.backbone, rows, e, steps):.1f} ms")


if __name__ == "__main__":
    main()
