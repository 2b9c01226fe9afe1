"""Benchmark: one ``step()`` of dlcore.optim.Adam against torch.optim.Adam(foreach=False).

The model is an MLP 784-1024-256-10 (1 068 810 float32 parameters). Gradients are fixed random
tensors, so only the optimizer's update is timed. The optimizers run in alternating blocks of
steps (``--rounds`` blocks of ``--block`` steps, the order swapped every round), so that a change
in machine load hits all alike while each keeps its own memory pattern within a block. Printed:
per-step median and minimum, minor page faults per step, and the ratio to torch. The target in
the Optimizers issue is a ratio within 2x on the 2-core CPU machine.

Three contenders:

* ``dlcore.optim.Adam`` -- the class; it calls ``adam_update(..., inplace=True)`` on its own
  buffers, so its memory traffic is that of torch's loop (one temporary instead of two);
* ``adam_update`` pure -- the same function in its default pure mode, which allocates a new
  parameter and new moments every step and copies the result into the parameter: the price of
  purity, for the book;
* ``torch.optim.Adam(foreach=False)`` -- the reference.

Fresh memory costs page faults, and whether glibc hands memory back to the OS between steps
depends on the largest block freed so far, so timings of allocating code are sensitive to the
process's history and to machine load. ``--settle-allocator`` frees one 30 MB block first, which
raises glibc's dynamic mmap/trim thresholds as any real training loop (batches, activations)
does; the page-fault column shows the effect.

Run from the repository root::

    python benchmarks/bench_optim.py
    python benchmarks/bench_optim.py --settle-allocator --threads 1 --check

``--check`` exits with status 1 when the class's ratio exceeds ``--max-ratio`` (default 2).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing dlcore

from dlcore import optim as dlcore_optim  # noqa: E402


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    for p in model.parameters():  # a fixed gradient: only the update is measured
        p.grad = torch.randn_like(p) * 1e-2
    return model


class PureAdam:
    """Adam through the *pure* ``adam_update``: new tensors every step, copied into params."""

    def __init__(self, params, lr: float = 1e-3) -> None:
        self.params, self.lr, self.t = list(params), lr, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        for i, p in enumerate(self.params):
            new_p, self.m[i], self.v[i], _ = dlcore_optim.adam_update(
                p, p.grad, self.m[i], self.v[i], step=self.t, lr=self.lr)
            p.copy_(new_p)


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="alternating blocks each")
    parser.add_argument("--block", type=int, default=25, help="timed steps per block")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--settle-allocator", action="store_true",
                        help="free a 30 MB block first (see the module docstring)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio is too big")
    parser.add_argument("--max-ratio", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.settle_allocator:
        # glibc raises its mmap threshold to the size of a freed mmapped block (<= 32 MB), and
        # its trim threshold to twice that: later temporaries are then reused, not re-faulted
        del_me = torch.empty(30 * 2**20, dtype=torch.uint8)
        del del_me

    models = {"ours": make_model(), "pure": make_model(), "torch": make_model()}
    opts = {
        "ours": dlcore_optim.Adam(models["ours"].parameters(), lr=1e-3),
        "pure": PureAdam(models["pure"].parameters(), lr=1e-3),
        "torch": torch.optim.Adam(models["torch"].parameters(), lr=1e-3, foreach=False),
    }
    labels = {"ours": "dlcore.optim.Adam", "pure": "dlcore adam_update, pure mode",
              "torch": "torch.optim.Adam(foreach=False)"}
    for opt in opts.values():
        for _ in range(args.warmup):
            opt.step()
    times = {k: [] for k in opts}
    faults = dict.fromkeys(opts, 0)
    for r in range(args.rounds):
        order = list(opts) if r % 2 == 0 else list(opts)[::-1]
        for k in order:
            before = minor_faults()
            for _ in range(args.block):
                start = time.perf_counter()
                opts[k].step()
                times[k].append(time.perf_counter() - start)
            faults[k] += minor_faults() - before
    # same start, same gradients, same number of steps: the parameters must agree
    drift = max((p - q).abs().max().item() for k in ("ours", "pure")
                for p, q in zip(models[k].parameters(), models["torch"].parameters(),
                                strict=True))

    steps = args.rounds * args.block
    n_params = sum(p.numel() for p in models["torch"].parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {n_params:,} float32 "
          f"parameters, {steps} timed steps each, settle-allocator={args.settle_allocator}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in opts:
        print(f"  {labels[k]:<32} median {med[k] * 1e3:7.3f} ms  min {min(times[k]) * 1e3:7.3f}"
              f" ms  {faults[k] / steps:6.0f} page faults/step  "
              f"ratio {med[k] / med['torch']:.2f}x")
    ratio = med["ours"] / med["torch"]
    print(f"  dlcore.optim.Adam / torch: {ratio:.2f}x (target <= {args.max_ratio:g}x); "
          f"max |param difference| after {args.warmup + steps} steps: {drift:.1e}")
    return 1 if args.check and ratio > args.max_ratio else 0


if __name__ == "__main__":
    sys.exit(main())
