"""Time dlcore's ROC AUC and average precision against scikit-learn, side by side in one run.

Usage::

    python benchmarks/bench_metrics.py                 # CPU, n = 10^6, median of 7 repeats
    python benchmarks/bench_metrics.py --device cuda   # also time dlcore on GPU tensors
    python benchmarks/bench_metrics.py --n 100000 --repeats 15

Two data sets of ``n`` scores with 30% positives: continuous float64 scores (no ties) and the
same scores rounded to 3 decimals (about 1,300 distinct values: heavy ties). sklearn gets
NumPy arrays and dlcore gets tensors sharing their memory, as each is called in practice. Every
timing is the median of ``--repeats`` calls after one warm-up call, the calls of a row
interleaved; the ratio is sklearn's time over dlcore's (> 1: dlcore is faster). The values are
checked to agree before timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from functools import partial

import numpy as np
import sklearn
import torch
from sklearn import metrics as skm

from dlcore import metrics as M

METRICS = [
    ("roc_auc_score", M.roc_auc_score, skm.roc_auc_score),
    ("average_precision_score", M.average_precision_score, skm.average_precision_score),
]


def interleaved_ms(calls: dict, repeats: int) -> dict:
    """Median wall time in ms of each zero-argument call, after one warm-up call each.

    The calls alternate within every repeat, so a burst of load from other processes slows
    all of them alike and the ratios stay fair. CUDA calls synchronize inside the timed region
    (kernels run asynchronously).
    """
    for f, _ in calls.values():
        f()
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, (f, sync) in calls.items():
            sync()
            t0 = time.perf_counter()
            f()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def _no_sync() -> None:
    pass


def datasets(n: int, seed: int = 0):
    g = np.random.default_rng(seed)
    y = (g.random(n) < 0.3).astype(np.int64)
    s = g.random(n) + 0.3 * y  # some signal, so AUC and AP are not trivial
    return {"no ties": (s, y), "ties (3 decimals)": (np.round(s, 3), y)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of scores")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per cell")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cuda: also time dlcore on GPU tensors")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device == "cuda" and torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        print("note: --device cuda asked but no CUDA device is available; CPU only")

    print(f"n = {args.n:,}, median of {args.repeats}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}")
    # other processes on the machine distort timings (torch's threads wait for each other at
    # the end of every parallel op): the load average tells how busy the machine was
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}"
          + (f"; GPU: {torch.cuda.get_device_name()}" if cuda else ""))
    head = f"{'metric':<24} {'data':<18} {'sklearn ms':>10} {'dlcore ms':>10} {'ratio':>6}"
    if cuda:
        head += f" {'cuda ms':>8} {'ratio':>6}"
    print(head + f" {'|difference|':>12}")
    print("-" * len(head + " " * 13))
    for name, ours, ref in METRICS:
        for label, (s, y) in datasets(args.n).items():
            st, yt = torch.from_numpy(s), torch.from_numpy(y)
            diff = abs(float(ours(st, yt)) - float(ref(y, s)))
            if diff > 1e-12:
                raise SystemExit(f"{name} on {label}: dlcore and sklearn differ by {diff:.3g}")
            calls = {"sklearn": (partial(ref, y, s), _no_sync),
                     "cpu": (partial(ours, st, yt), _no_sync)}
            if cuda:
                sg, yg = st.cuda(), yt.cuda()
                calls["cuda"] = (partial(ours, sg, yg), torch.cuda.synchronize)
            t = interleaved_ms(calls, args.repeats)
            row = (f"{name:<24} {label:<18} {t['sklearn']:>10.1f} {t['cpu']:>10.1f} "
                   f"{t['sklearn'] / t['cpu']:>5.1f}x")
            if cuda:
                row += f" {t['cuda']:>8.2f} {t['sklearn'] / t['cuda']:>5.0f}x"
            print(row + f" {diff:>12.1e}")


if __name__ == "__main__":
    main()
