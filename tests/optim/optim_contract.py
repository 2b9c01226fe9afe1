"""What the test files of tests/optim share: the problem (a float64 tanh MLP, its data and loss,
two parameter groups, one training step) and the tests that every optimizer class passes, written
once here and instantiated by each algorithm's test file with its own settings.

Each function in "shared tests" takes a table of cases and returns one parametrized test; a test
file collects it by binding it to a test name, e.g.
``test_trajectory_equals_torch = contract.trajectory([(O.SGD, torch.optim.SGD, [...])])``.
The asserts are rewritten by pytest (``tests/conftest.py`` registers this module).
"""

import copy

import pytest
import torch
from torch import nn

DT = torch.float64

STEPS = 120



# --------------------------------------------------------------------------- the problem


def make_model(seed=0):
    """A 5-8-8-2 tanh MLP plus a parameter that never gets a gradient."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    model = model.to(DT)
    model.unused = nn.Parameter(torch.linspace(-1, 1, 3, dtype=DT))
    return model


def make_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 5, generator=g, dtype=DT)
    Y = torch.sin(2 * X[:, :2]) + 0.1 * torch.randn(64, 2, generator=g, dtype=DT)
    return X, Y


def loss_fn(model, X, Y):
    # MSE plus a log-sum-exp term: far from quadratic in the weights
    out = model(X)
    return ((out - Y) ** 2).mean() + 0.1 * torch.logsumexp(out, dim=1).mean()


def groups(model, **first_group):
    """Two param groups: first layer (with overrides), the rest (including ``unused``)."""
    first = list(model[0].parameters())
    rest = [p for p in model.parameters() if all(p is not q for q in first)]
    return [{"params": first, **first_group}, {"params": rest}]


def train_step(model, opt, X, Y):
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model, X, Y)
    loss.backward()
    opt.step()
    return loss.item()


def assert_same_params(a, b, tol=1e-10):
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=tol, atol=tol, msg=lambda m, n=name: f"{n}: {m}")


# --------------------------------------------------------------------------- shared tests


def trajectory(cases):
    """``test_trajectory_equals_torch`` over ``cases``, a list of (dlcore class, torch class,
    settings): 120 steps from the same start, every setting with two parameter groups and an lr
    change halfway; losses, parameters and states must agree with torch's to float64 rounding."""
    flat = [(ours, ref, kw) for ours, ref, settings in cases for kw in settings]
    ids = [f"{ours.__name__}-{i}" for ours, _, settings in cases for i in range(len(settings))]

    @pytest.mark.parametrize("ours,ref,kwargs", flat, ids=ids)
    def test_trajectory_equals_torch(ours, ref, kwargs):
        X, Y = make_data()
        a, b = make_model(), make_model()
        first = {"lr": kwargs["lr"] * 0.5}
        opt_a = ours(groups(a, **first), **kwargs)
        opt_b = ref(groups(b, **first), **kwargs, foreach=False)
        unused_before = a.unused.detach().clone()
        for step in range(STEPS):
            if step == STEPS // 2:  # a scheduler-like lr change halfway
                for opt in (opt_a, opt_b):
                    for group in opt.param_groups:
                        group["lr"] *= 0.3
            loss_a, loss_b = train_step(a, opt_a, X, Y), train_step(b, opt_b, X, Y)
            assert loss_a == pytest.approx(loss_b, rel=1e-10)
            assert_same_params(a, b)
        # the trajectory went somewhere: the test could have failed
        assert not torch.allclose(a[0].weight, make_model()[0].weight)
        # the parameter without a gradient: untouched and stateless, in both libraries
        assert torch.equal(a.unused, unused_before)
        assert a.unused not in opt_a.state
        # the states agree too (same keys as torch, same values)
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            if p is a.unused:
                continue
            sa, sb = opt_a.state[p], opt_b.state[q]
            assert set(sa) == set(sb)
            for key in sa:
                if key == "step":
                    assert int(sa[key]) == int(sb[key]) == STEPS
                else:
                    torch.testing.assert_close(sa[key], sb[key], rtol=1e-9, atol=1e-12)

    return test_trajectory_equals_torch


def step_with_closure(pairs):
    """``test_step_with_closure_equals_torch`` over ``pairs`` of (dlcore class, torch class):
    ``step(closure)`` returns the closure's loss and takes the same steps as torch."""

    @pytest.mark.parametrize("ours,ref", pairs)
    def test_step_with_closure_equals_torch(ours, ref):
        X, Y = make_data(1)
        a, b = make_model(1), make_model(1)
        opt_a = ours(a.parameters(), lr=0.01)
        opt_b = ref(b.parameters(), lr=0.01, foreach=False)
        for _ in range(20):
            for model, opt in ((a, opt_a), (b, opt_b)):

                def closure(model=model, opt=opt):
                    opt.zero_grad()
                    loss = loss_fn(model, X, Y)
                    loss.backward()
                    return loss

                losses = opt.step(closure)
                if opt is opt_a:
                    loss_a = losses
            assert loss_a.item() == pytest.approx(losses.item(), rel=1e-12)
            assert_same_params(a, b)

    return test_step_with_closure_equals_torch


def round_trip(cases):
    """``test_state_dict_round_trip_continues_identically`` over ``cases`` of (class, kwargs):
    a fresh optimizer that loads a ``state_dict`` continues bit for bit like the original."""

    @pytest.mark.parametrize("cls,kwargs", cases, ids=[c.__name__ for c, _ in cases])
    def test_state_dict_round_trip_continues_identically(cls, kwargs):
        X, Y = make_data(2)
        a = make_model(2)
        opt_a = cls(groups(a, lr=kwargs.get("lr", 1.0) * 0.5), **kwargs)
        for _ in range(30):
            train_step(a, opt_a, X, Y)
        saved = copy.deepcopy(opt_a.state_dict())
        b = copy.deepcopy(a)
        opt_b = cls(groups(b), **kwargs)  # fresh: no state, default group lrs
        opt_b.load_state_dict(saved)
        assert opt_b.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]
        for _ in range(30):
            train_step(a, opt_a, X, Y)
            train_step(b, opt_b, X, Y)
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)

    return test_state_dict_round_trip_continues_identically


def interchange(cases):
    """``test_state_dict_interchanges_with_torch`` over ``cases`` of (dlcore class, torch class,
    kwargs): a ``state_dict`` goes from torch to dlcore and back, and training continues alike."""

    @pytest.mark.parametrize("ours,ref,kwargs", cases)
    def test_state_dict_interchanges_with_torch(ours, ref, kwargs):
        X, Y = make_data(3)
        a = make_model(3)
        opt_ref = ref(a.parameters(), **kwargs, foreach=False)
        for _ in range(20):
            train_step(a, opt_ref, X, Y)
        b = copy.deepcopy(a)
        opt_ours = ours(b.parameters(), **kwargs)
        opt_ours.load_state_dict(copy.deepcopy(opt_ref.state_dict()))  # torch → dlcore
        for _ in range(20):
            train_step(a, opt_ref, X, Y)
            train_step(b, opt_ours, X, Y)
        assert_same_params(a, b)
        c = copy.deepcopy(b)
        opt_back = ref(c.parameters(), **kwargs, foreach=False)
        opt_back.load_state_dict(copy.deepcopy(opt_ours.state_dict()))  # dlcore → torch
        for _ in range(10):
            train_step(b, opt_ours, X, Y)
            train_step(c, opt_back, X, Y)
        assert_same_params(b, c)

    return test_state_dict_interchanges_with_torch


def grad_none(cases):
    """``test_grad_none_is_untouched_and_caller_grad_is_not_modified`` over ``cases`` of (class,
    kwargs): a parameter without gradient gets no update and no state; the caller's ``.grad`` is
    neither written nor aliased by the state."""

    @pytest.mark.parametrize("cls,kwargs", cases, ids=[c.__name__ for c, _ in cases])
    def test_grad_none_is_untouched_and_caller_grad_is_not_modified(cls, kwargs):
        used = torch.tensor([1.0, -2.0], dtype=DT, requires_grad=True)
        idle = torch.tensor([3.0, 4.0], dtype=DT, requires_grad=True)
        opt = cls([used, idle], **kwargs)
        for _ in range(3):
            grad = torch.tensor([0.5, -0.25], dtype=DT)
            used.grad = grad
            opt.step()
            assert torch.equal(grad, torch.tensor([0.5, -0.25], dtype=DT))  # not modified
            assert used.grad is grad
        assert idle.grad is None and torch.equal(idle, torch.tensor([3.0, 4.0], dtype=DT))
        assert idle not in opt.state and used in opt.state
        assert not torch.equal(used, torch.tensor([1.0, -2.0], dtype=DT))
        # the state must not alias the caller's gradient (zeroing it in place changes nothing)
        before = {k: v.clone() for k, v in opt.state[used].items() if torch.is_tensor(v)}
        used.grad.zero_()
        assert all(torch.equal(opt.state[used][k], v) for k, v in before.items())

    return test_grad_none_is_untouched_and_caller_grad_is_not_modified


def bad_hyperparameters(cases):
    """``test_bad_hyperparameters_are_rejected_naming_the_argument`` over ``cases`` of (class,
    kwargs, exception type, message pattern): the constructor raises, naming the argument."""

    @pytest.mark.parametrize("cls,kwargs,exc,match", cases,
                             ids=[f"{c.__name__}-{next(iter(k))}" for c, k, _, _ in cases])
    def test_bad_hyperparameters_are_rejected_naming_the_argument(cls, kwargs, exc, match):
        w = torch.zeros(2, requires_grad=True)
        with pytest.raises(exc, match=match):
            cls([w], **kwargs)

    return test_bad_hyperparameters_are_rejected_naming_the_argument
