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
