"""dlcore.networks.gradient_check: passes correct gradients, fails wrong ones, bad input."""

import pytest
import torch

from dlcore import networks as N


def mlp_problem(activation="tanh", seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = [3, 4, 2]
    params = []
    for i, o in zip(sizes[:-1], sizes[1:], strict=True):
        params += [torch.randn(o, i, generator=g, dtype=torch.float64),
                   torch.randn(o, generator=g, dtype=torch.float64)]
    X = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (5,), generator=g)

    def loss(p):
        out, _ = N.forward(X, [(p[0], p[1]), (p[2], p[3])], activation=activation)
        return torch.nn.functional.cross_entropy(out, y)

    def hand_grads(p):
        out, cache = N.forward(X, [(p[0], p[1]), (p[2], p[3])], activation=activation)
        prob = torch.softmax(out, dim=1)
        grad_out = (prob - torch.nn.functional.one_hot(y, 2).double()) / len(y)
        return [t for pair in N.backward(cache, grad_out) for t in pair]

    return loss, params, hand_grads


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_hand_backward_passes(activation, capsys):
    loss, params, hand = mlp_problem(activation)
    err = N.gradient_check(loss, params, grads=hand(params), name="backward")
    assert err < 1e-6
    assert "backward matches central differences (eps=1e-06)" in capsys.readouterr().out


def test_autograd_is_the_default_and_passes(capsys):
    loss, params, _ = mlp_problem("sigmoid", seed=1)
    err = N.gradient_check(loss, params, quiet=True)
    assert err < 1e-6
    assert capsys.readouterr().out == ""


def test_wrong_gradient_fails():
    loss, params, hand = mlp_problem("tanh", seed=2)
    grads = hand(params)
    grads[2] = grads[2].clone()
    grads[2][1, 3] *= 1.01  # a 1 % error in one entry
    with pytest.raises(AssertionError, match=r"does NOT match central differences.*"
                                             r"params\[2\] flat index 7"):
        N.gradient_check(loss, params, grads=grads)


def test_missing_factor_fails():
    w = torch.tensor([0.5, -1.5], dtype=torch.float64)
    with pytest.raises(AssertionError, match="max rel. error = 3.333e-01"):
        N.gradient_check(lambda p: (p[0] ** 2).sum(), [w], grads=[w])  # 2w expected


def test_params_are_not_modified_and_zero_gradients_count_as_equal():
    w = torch.tensor([1.0, 2.0], dtype=torch.float64)
    v = torch.tensor([3.0], dtype=torch.float64)
    w0 = w.clone()
    err = N.gradient_check(lambda p: (p[0] ** 2).sum(), [w, v], quiet=True)  # v unused
    assert torch.equal(w, w0) and err < 1e-9


def test_kink_makes_a_correct_gradient_fail():
    x = torch.tensor([1e-7, 2.0], dtype=torch.float64)  # within eps of relu's kink

    def f(p):
        return torch.relu(p[0]).sum()

    with pytest.raises(AssertionError):
        N.gradient_check(f, [x], eps=1e-6)
    assert N.gradient_check(f, [x], eps=1e-8, quiet=True) < 1e-6


def test_nan_counts_as_failure():
    w = torch.tensor([1e-7], dtype=torch.float64)  # log(w - eps) is NaN
    with pytest.raises(AssertionError, match="max rel. error = inf"):
        N.gradient_check(lambda p: torch.log(p[0]).sum(), [w], quiet=True)


def test_float32_is_accepted():
    w = torch.tensor([0.3, -0.7])
    err = N.gradient_check(lambda p: (p[0] ** 2).sum(), [w], eps=1e-2, tol=1e-3, quiet=True)
    assert err < 1e-3


def test_bad_input():
    w = torch.ones(2, dtype=torch.float64)

    def f(p):
        return p[0].sum()

    with pytest.raises(TypeError, match="`f` must be callable"):
        N.gradient_check(1.0, [w])
    with pytest.raises(ValueError, match="`params` must be a non-empty flat list.*list of "):
        N.gradient_check(f, [])
    with pytest.raises(ValueError, match="`params` must be a non-empty flat list.*got Tensor$"):
        N.gradient_check(f, w)
    with pytest.raises(ValueError, match=r"`params\[0\]` must have a floating"):
        N.gradient_check(f, [torch.ones(2, dtype=torch.long)])
    with pytest.raises(ValueError, match=r"`params\[0\]` must be finite"):
        N.gradient_check(f, [torch.tensor([float("nan")], dtype=torch.float64)])
    with pytest.raises(ValueError, match="`eps` must be > 0"):
        N.gradient_check(f, [w], eps=0.0)
    with pytest.raises(ValueError, match="`tol` must be > 0"):
        N.gradient_check(f, [w], tol=-1.0)
    with pytest.raises(TypeError, match="`quiet` must be a bool"):
        N.gradient_check(f, [w], quiet=1)
    with pytest.raises(ValueError, match="`name` must be a non-empty str"):
        N.gradient_check(f, [w], name="")
    with pytest.raises(ValueError, match="`grads` must have one tensor per parameter"):
        N.gradient_check(f, [w], grads=[w, w])
    with pytest.raises(ValueError, match=r"`grads\[0\]` and `params\[0\]` must have the same"):
        N.gradient_check(f, [w], grads=[torch.ones(3, dtype=torch.float64)])
    with pytest.raises(ValueError, match=r"`f` must return a scalar tensor.*shape \(2,\)"):
        N.gradient_check(lambda p: p[0], [w])
    with pytest.raises(ValueError, match=r"`f` must return a scalar tensor.*got float"):
        N.gradient_check(lambda p: 1.0, [w], grads=[w])
