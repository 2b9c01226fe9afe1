import pytest
import torch
from torch import nn

import dlcore
from dlcore import data, train


def small_split():
    X, y = data.blobs(120, centers=3, std=0.5, generator=torch.Generator().manual_seed(0))
    return data.Split(X_train=X[::2], y_train=y[::2], X_test=X[1::2], y_test=y[1::2],
                      num_classes=3)


def run(seed):
    dlcore.seed(seed)
    model = train.mlp([2, 16, 3], nn.Tanh)
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    return model, train.fit(model, small_split(), optimizer=opt, epochs=15, batch_size=16,
                            generator=torch.Generator().manual_seed(seed), device="cpu")


def test_fit_learns_and_records_history():
    model, h = run(0)
    assert len(h.train_loss) == len(h.test_acc) == 15
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.test_acc[-1] >= 0.95  # well-separated blobs
    loss, acc = train.evaluate(model, small_split().X_test, small_split().y_test)
    assert loss == pytest.approx(h.test_loss[-1]) and acc == pytest.approx(h.test_acc[-1])


def test_fit_is_deterministic_under_seed():
    _, h1 = run(3)
    _, h2 = run(3)
    assert h1 == h2


def test_evaluate_restores_training_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    train.evaluate(model, torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    assert model.training


def test_mlp_structure():
    m = train.mlp([4, 8, 8, 2], nn.ReLU)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: train.mlp([4]), ValueError, "`sizes` must be a list of at least two"),
    (lambda: train.mlp([4, 0]), ValueError, r"`sizes\[1\]` must be >= 1"),
    (lambda: train.evaluate(nn.Linear(2, 2), torch.zeros(3, 2), torch.zeros(2)), ValueError,
     "`X` and `y` must have the same length, got 3 and 2"),
    (lambda: train.fit(nn.Linear(2, 3), small_split(), optimizer=None, epochs=0), ValueError,
     "`epochs` must be >= 1"),
    (lambda: train.fit(nn.Linear(2, 3), (1, 2), optimizer=None, epochs=1), TypeError,
     "`data` must be a dlcore.data.Split"),
])
def test_bad_arguments(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# -- the features the later chapters use ------------------------------------------------

def val_split():
    return data.with_validation(small_split(), fraction=0.25, seed=0)


def fit_small(seed=0, model=None, split=None, **kwargs):
    dlcore.seed(seed)
    model = model or train.mlp([2, 16, 3], nn.Tanh)
    opt = torch.optim.SGD(model.parameters(), lr=kwargs.pop("lr", 0.2))
    h = train.fit(model, split or val_split(), optimizer=opt, epochs=kwargs.pop("epochs", 8),
                  batch_size=kwargs.pop("batch_size", 16),
                  generator=torch.Generator().manual_seed(seed), device="cpu", **kwargs)
    return model, opt, h


def test_schedule_sets_the_rate_of_every_step():
    from functools import partial

    from dlcore import schedules
    sched = partial(schedules.cosine_decay, base_lr=0.3, total_steps=10)
    _, opt, h = fit_small(schedule=sched, epochs=4)
    # 45 training rows in batches of 16 → 3 steps per epoch
    assert len(h.lr) == len(h.step_loss) == 12
    assert h.lr == pytest.approx([sched(t) for t in range(12)])
    assert opt.param_groups[0]["lr"] == pytest.approx(sched(11))


def test_history_records_every_part_and_the_step_losses():
    _, _, h = fit_small(epochs=3)
    assert len(h.train_loss) == len(h.val_loss) == len(h.test_loss) == 3
    assert len(h.val_acc) == len(h.test_acc) == 3
    assert h.best_epoch == int(torch.tensor(h.val_loss).argmin())
    assert len(h.step_loss) == 9 and all(v > 0 for v in h.step_loss)
    no_test = data.Split(X_train=small_split().X_train, y_train=small_split().y_train,
                         X_test=None, y_test=None, num_classes=3)
    _, _, h = fit_small(split=no_test, epochs=2)
    assert h.test_loss == [] and h.val_loss == [] and h.best_epoch is None


def test_clipping_bounds_every_gradient_norm():
    norms = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            g = torch.cat([p.grad.flatten() for p in self.param_groups[0]["params"]])
            norms.append(float(g.norm()))
            return super().step(closure)

    dlcore.seed(0)
    model = train.mlp([2, 16, 3], nn.Tanh)
    train.fit(model, val_split(), optimizer=Spy(model.parameters(), lr=0.5), epochs=3,
              clip_norm=0.05, generator=torch.Generator().manual_seed(0), device="cpu")
    assert max(norms) <= 0.05 * (1 + 1e-6)
    assert max(norms) > 0.04  # unclipped norms are larger: the clip was active


def test_early_stopping_restores_the_best_weights():
    snapshots = []

    def keep(epoch, model, history):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})

    # random labels: whatever the net learns on the training rows, validation loss soon rises
    X, _ = data.blobs(120, centers=3, std=0.5, generator=torch.Generator().manual_seed(0))
    y = torch.randint(3, (120,), generator=torch.Generator().manual_seed(1))
    noise = data.with_validation(data.Split(X, y, None, None, num_classes=3), fraction=0.5)
    model, _, h = fit_small(split=noise, model=train.mlp([2, 64, 64, 3], nn.Tanh), lr=0.5,
                            epochs=60, patience=3, callback=keep)
    assert h.stopped_early and len(h.val_loss) < 40
    assert len(h.val_loss) - 1 - h.best_epoch == 3
    best = snapshots[h.best_epoch]
    for k, v in model.state_dict().items():
        assert torch.equal(v, best[k])
    loss, _ = train.evaluate(model, noise.X_val, noise.y_val)
    assert loss == pytest.approx(h.val_loss[h.best_epoch])


def test_a_non_finite_loss_stops_training_and_is_reported():
    # least squares on one-hot targets with far too large a step grows geometrically to inf
    def mse(out, y):
        return ((out - nn.functional.one_hot(y, 3)) ** 2).mean()
    _, _, h = fit_small(model=nn.Linear(2, 3), loss_fn=mse, lr=50.0, epochs=20)
    assert h.diverged and len(h.train_loss) < 20
    assert not torch.isfinite(torch.tensor(h.step_loss[-1]))


def test_drop_last_skips_the_incomplete_batch():
    _, _, h = fit_small(epochs=2, batch_size=20, drop_last=True)  # 45 rows → 2 steps, not 3
    assert len(h.step_loss) == 4
    bn = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        fit_small(model=bn, epochs=1, batch_size=22)  # 45 = 22 + 22 + 1
    fit_small(model=bn, epochs=1, batch_size=22, drop_last=True)


def test_token_ids_and_sequence_outputs():
    # a bigram model over 5 tokens: integer inputs, (N, T, V) logits and (N, T) targets
    g = torch.Generator().manual_seed(0)
    seq = torch.randint(5, (40, 7), generator=g)
    split = data.Split(X_train=seq[:30, :-1], y_train=seq[:30, 1:], X_test=seq[30:, :-1],
                       y_test=seq[30:, 1:], num_classes=5)
    dlcore.seed(0)
    model = nn.Embedding(5, 5)
    h = train.fit(model, split, optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
                  epochs=3, batch_size=10, generator=g, device="cpu")
    assert len(h.test_loss) == 3 and 0.0 <= h.test_acc[-1] <= 1.0
    logits = model(split.X_test).detach()
    assert h.test_loss[-1] == pytest.approx(float(torch.nn.functional.cross_entropy(
        logits.reshape(-1, 5), split.y_test.reshape(-1))))


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"patience": 2, "split": "no-val"}, ValueError, "`patience` needs a validation part"),
    ({"patience": 0}, ValueError, "`patience` must be >= 1"),
    ({"clip_norm": 0.0}, ValueError, "`clip_norm` must be > 0"),
    ({"schedule": 0.1}, TypeError, "`schedule` must be callable"),
    ({"callback": "print"}, TypeError, "`callback` must be callable"),
    ({"batch_transform": 1}, TypeError, "`batch_transform` must be callable"),
    ({"drop_last": 1}, TypeError, "`drop_last` must be a bool"),
    ({"parts": ["test"]}, ValueError, "`parts` must be a non-empty tuple"),
    ({"parts": ()}, ValueError, "`parts` must be a non-empty tuple"),
    ({"parts": ("test", "dev")}, ValueError, "got \\('test', 'dev'\\)"),
    ({"patience": 2, "parts": ("test",)}, ValueError, "`patience` needs \"val\" in `parts`"),
    ({"drop_last": True, "batch_size": 100}, ValueError, "`batch_size` must be at most the 45"),
])
def test_bad_fit_options(kwargs, exc, msg):
    if kwargs.get("split") == "no-val":
        kwargs["split"] = small_split()
    with pytest.raises(exc, match=msg):
        fit_small(**kwargs)


def test_a_last_step_that_leaves_non_finite_weights_counts_as_diverged():
    def mse(out, y):
        return ((out - nn.functional.one_hot(y, 3)) ** 2).mean()
    # one full-batch step: its loss is finite, the weights after it overflow float32
    _, _, h = fit_small(model=nn.Linear(2, 3), loss_fn=mse, lr=1e30, epochs=1, batch_size=45)
    assert len(h.step_loss) == 1 and torch.isfinite(torch.tensor(h.step_loss[0]))
    assert h.diverged


def test_parts_limits_the_evaluation_and_training_is_unchanged():
    full_model, _, full = fit_small()
    model, _, h = fit_small(parts=("test",))
    assert h.train_loss == [] and h.val_loss == [] and h.best_epoch is None
    assert h.test_loss == full.test_loss and h.step_loss == full.step_loss
    for p, q in zip(model.parameters(), full_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_non_finite_weights_count_as_diverged_without_the_training_part():
    class Blowup(nn.Module):  # its parameter becomes nan, its outputs stay finite
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(3))

        def forward(self, x):
            return x[:, :1] * 0 + torch.where(torch.isnan(self.w), 0.0, self.w)

    model = Blowup()
    opt = torch.optim.SGD(model.parameters(), lr=float("nan"))
    h = train.fit(model, small_split(), optimizer=opt, epochs=3, batch_size=60,
                  parts=("train",), device="cpu")
    assert h.diverged and len(h.train_loss) == 1
    assert all(torch.isfinite(torch.tensor(h.step_loss + h.train_loss)))
    assert torch.isnan(model.w).all()


def test_batch_transform_sees_every_training_batch_and_soft_labels_train():
    seen = []

    def soft(X, y):  # one-hot soft labels: the same loss as the integer labels
        seen.append(len(X))
        return X, nn.functional.one_hot(y, 3).to(X.dtype)

    _, _, h_soft = fit_small(epochs=2, batch_size=20, batch_transform=soft)
    _, _, h_hard = fit_small(epochs=2, batch_size=20)
    assert seen == [20, 20, 5] * 2
    assert h_soft.step_loss == pytest.approx(h_hard.step_loss, rel=1e-6)
    assert h_soft.test_acc == h_hard.test_acc

    def noise(X, y):  # evaluation never sees the transform
        return X + 100.0, y

    _, _, h_noise = fit_small(epochs=1, batch_size=20, batch_transform=noise)
    assert h_noise.step_loss != pytest.approx(h_hard.step_loss[:3])


def test_cross_entropy_with_probability_targets():
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    p = torch.softmax(torch.randn(4, 3, generator=torch.Generator().manual_seed(2)), dim=1)
    expected = -(p * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    assert float(train.cross_entropy(logits, p)) == pytest.approx(float(expected))
