"""Time dlcore's ROC AUC and average precision against scikit-learn, side by side in one run.

Usage::

    python benchmarks/bench_metrics.py                 # CPU, n = 10^6, median of 7 repeats
    python benchmarks/bench_metrics.py --device cuda   # also time dlcore on GPU tensors
    python benchmarks/bench_metrics.py --n 100000 --repeats 15
    python benchmarks/bench_metrics.py --load          # idle, then with every core kept busy

Two data sets of ``n`` scores with 30% positives: continuous float64 scores (no ties) and the
same scores rounded to 3 decimals (about 1,300 distinct values: heavy ties). sklearn gets
NumPy arrays and dlcore gets tensors sharing their memory, as each is called in practice. Every
timing is the median of ``--repeats`` calls after one warm-up call, the calls of a row
interleaved; the ratio is sklearn's time over dlcore's (> 1: dlcore is faster). The values are
checked to agree before timing.

Threads follow the book's policy (:func:`dlcore.use_threads`, one thread unless
``DLCORE_THREADS`` or ``--threads`` says otherwise). ``--load`` runs the table twice: first as
the machine is, then while one busy-looping process per core competes for the CPU, the
situation of a CI machine that runs other jobs; it prints both tables.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import time
from functools import partial

import numpy as np
import sklearn
import torch
from sklearn import metrics as skm

import dlcore
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


def _spin(stop) -> None:
    """Keep one core busy until ``stop`` is set."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


class Load:
    """Context manager: one busy-looping process per core while the block runs."""

    def __enter__(self):
        self.stop = mp.Event()
        self.procs = [mp.Process(target=_spin, args=(self.stop,), daemon=True)
                      for _ in range(os.cpu_count() or 1)]
        for p in self.procs:
            p.start()
        time.sleep(1.0)  # let them reach full speed
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for p in self.procs:
            p.join()


def table(args, cuda: bool) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of scores")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per cell")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cuda: also time dlcore on GPU tensors")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: the book's policy, dlcore.use_threads())")
    parser.add_argument("--load", action="store_true",
                        help="also time with one busy process per core competing")
    args = parser.parse_args()
    dlcore.use_threads(args.threads)
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
    print("\n== as the machine is" + (" (no extra load)" if args.load else "") + " ==")
    table(args, cuda)
    if args.load:
        with Load() as load:
            print(f"\n== with {len(load.procs)} busy processes competing, load average "
                  f"{os.getloadavg()[0]:.2f} ==")
            table(args, cuda)


if __name__ == "__main__":
    main()
