"""The data checks of :func:`dlcore.practice.sanity_checks` (Karpathy's "become one with the
data"), as tuples ``(name, passed, value, measured, expected, advice)`` of a SanityCheck."""

from __future__ import annotations

import math

import numpy as np
import torch

from dlcore.data import Split
from dlcore.train import PARTS


def _parts(data: Split):
    for part in PARTS:
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        if X is not None:
            yield part, X, y


def data_checks(data: Split) -> list[tuple]:
    parts = list(_parts(data))
    K = data.num_classes
    # (1a) shapes and dtypes: one row per label, the same feature shape in every part
    shapes = "; ".join(f"{p} {tuple(X.shape)} {str(X.dtype)[6:]}, y {str(y.dtype)[6:]}"
                       for p, X, y in parts)
    ok = all(len(X) == len(y) and X.shape[1:] == data.X_train.shape[1:]
             and X.dtype == data.X_train.dtype and not y.is_floating_point()
             for _, X, y in parts)
    out = [("data: shapes", ok, float(data.X_train[0].numel()), shapes,
                 "one label per row, int labels, one shape",
                 "fix the loader: a transposed array or float labels break training")]
    # (1b) non-finite values
    bad = sum(int((~torch.isfinite(X)).sum()) for _, X, _ in parts if X.is_floating_point())
    out.append(("data: finite", bad == 0, float(bad), f"{bad} NaN/inf value(s)", "0",
                     "impute or drop the rows with missing values before training"))
    # (1c) scale: the initializations assume inputs of mean ~0 and variance ~1, globally
    # and per feature (one column in other units passes the global test)
    X = data.X_train
    if X.is_floating_point():
        Xd = X.double()
        mean, std = float(Xd.mean()), float(Xd.std())
        col = Xd.reshape(len(Xd), -1)
        f_mean, f_std = float(col.mean(0).abs().max()), float(col.std(0).max())
        ok = abs(mean) <= 1.0 and 0.1 <= std <= 10.0 and f_mean <= 3.0 and f_std <= 10.0
        out.append(("data: scale", ok, f_std,
                         f"train mean {mean:.3g}, std {std:.3g}; per feature |mean| up to "
                         f"{f_mean:.3g}, std up to {f_std:.3g}",
                         "|mean| <= 1, std in [0.1, 10]; per feature |mean| <= 3, std <= 10",
                         "standardize the inputs with statistics of the training part"))
    # (1d) labels: integer, in [0, K), counts
    y_all = torch.cat([y.flatten().cpu() for _, _, y in parts])
    ok = not y_all.is_floating_point() and bool(((y_all >= 0) & (y_all < K)).all())
    counts = (torch.bincount(data.y_train.flatten().cpu(), minlength=K).tolist()
              if ok else [])
    ratio = max(counts) / max(min(counts), 1) if ok else math.nan
    lo, hi = float(y_all.min()), float(y_all.max())
    out.append(("data: labels", ok, ratio,
                     f"values in [{lo:g}, {hi:g}], train counts {counts} "
                     f"(largest/smallest {ratio:.3g})", f"integer labels in [0, {K})",
                     "relabel the classes 0..K-1 or set num_classes"))
    if not ok:
        return out
    # (1e) every class in every part
    missing = {p: sorted(set(range(K)) - set(y.flatten().cpu().tolist())) for p, _, y in parts}
    text = "; ".join(f"{p}: {m}" for p, m in missing.items() if m) or "none"
    n_missing = sum(len(m) for m in missing.values())
    out.append(("data: classes in every part", n_missing == 0, float(n_missing),
                     f"missing classes {text}", "none",
                     "split stratified by class; a missing class cannot be learned or scored"))
    # (1f) exact duplicates shared by the training part and a held-out part: a leak
    def rows(T):
        a = np.ascontiguousarray(T.detach().cpu().reshape(len(T), -1).numpy())
        return {r.tobytes() for r in a}

    train_rows = rows(data.X_train)
    shared = {p: len(rows(X) & train_rows) for p, X, _ in parts if p != "train"}
    n_shared = sum(shared.values())
    text = ", ".join(f"{p} {k}" for p, k in shared.items()) or "no held-out part"
    out.append(("data: train-test duplicates", n_shared == 0, float(n_shared),
                     f"rows also in train: {text}", "0",
                     "remove the duplicates from the held-out parts: they score memory"))
    return out
