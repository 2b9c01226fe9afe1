"""dlcore.optim against torch.optim: 120-step trajectories in float64 on a tanh MLP (several
settings per optimizer, two param groups, an lr change, a parameter without gradient),
AdaBound by hand and its bounds, state_dict round trips (also to and from torch), bad
hyperparameters, param_groups, linear_scaling and gradient clipping against torch.nn.utils."""

import copy
import inspect
import math

import pytest
import torch
from torch import nn

from dlcore import optim as O

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


# (dlcore class, torch class, settings); every setting is run with two groups and an lr change
CASES = [
    (O.SGD, torch.optim.SGD, [
        dict(lr=0.05),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=1e-2),
        dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=1e-3),
    ]),
    (O.Adagrad, torch.optim.Adagrad, [
        dict(lr=0.1),
        dict(lr=0.1, lr_decay=0.01, weight_decay=1e-2),
        dict(lr=0.05, initial_accumulator_value=0.5, eps=1e-6),
    ]),
    (O.RMSprop, torch.optim.RMSprop, [
        dict(lr=1e-2),
        dict(lr=1e-3, alpha=0.9, momentum=0.8),
        dict(lr=1e-3, centered=True, weight_decay=1e-2),
        dict(lr=5e-4, alpha=0.95, centered=True, momentum=0.9, eps=1e-6),
    ]),
    (O.Adadelta, torch.optim.Adadelta, [
        dict(lr=1.0),
        dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=1e-2),
        dict(lr=2.0, rho=0.5),
    ]),
    (O.Adam, torch.optim.Adam, [
        dict(lr=1e-2),
        dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=1e-2),
        dict(lr=1e-2, amsgrad=True, eps=1e-6),
        dict(lr=3e-3, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True),
    ]),
    (O.AdamW, torch.optim.AdamW, [
        dict(lr=1e-2),
        dict(lr=1e-2, weight_decay=0.1, amsgrad=True),
        dict(lr=3e-3, betas=(0.5, 0.9), eps=1e-10),
    ]),
]
FLAT = [(ours, ref, kw) for ours, ref, settings in CASES for kw in settings]
IDS = [f"{ours.__name__}-{i}" for ours, _, settings in CASES for i in range(len(settings))]


@pytest.mark.parametrize("ours,ref,kwargs", FLAT, ids=IDS)
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


def test_constructor_arguments_and_defaults_equal_torch():
    omitted = {"foreach", "maximize", "capturable", "differentiable", "fused"}
    for ours, ref, _ in CASES:
        mine = inspect.signature(ours.__init__).parameters
        theirs = inspect.signature(ref.__init__).parameters
        assert set(theirs) - set(mine) <= omitted, ours.__name__
        for name, param in mine.items():
            assert name in theirs, f"{ours.__name__}.{name} is not torch's"
            assert param.default == theirs[name].default, f"{ours.__name__}.{name}"
            assert param.kind == theirs[name].kind or name == "decoupled_weight_decay"


@pytest.mark.parametrize("ours,ref", [(O.SGD, torch.optim.SGD), (O.Adam, torch.optim.Adam)])
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


# --------------------------------------------------------------------------- AdaBound by hand


@pytest.mark.parametrize("amsbound", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adabound_first_two_steps_by_hand(amsbound, weight_decay):
    lr, final_lr, gamma, beta1, beta2, eps = 0.01, 0.1, 0.1, 0.9, 0.999, 1e-8
    theta0 = [0.5, -1.0, 2.0, 0.3]
    # step 1: a moderate, a large-ish, a tiny (→ upper bound) and a huge (→ lower bound) grad;
    # step 2: the last coordinate's gradient collapses, so v_2 < v_1 there (AMSBound differs)
    g1 = [0.2, -3.0, 1e-4, 50.0]
    g2 = [0.1, 2.0, -1e-4, 1e-3]
    w = torch.tensor(theta0, dtype=DT, requires_grad=True)
    opt = O.AdaBound([w], lr=lr, final_lr=final_lr, gamma=gamma, weight_decay=weight_decay,
                     amsbound=amsbound)

    # the reference implementation's algorithm, one coordinate at a time in plain floats
    expected, m, v, v_max = [], [0.0] * 4, [0.0] * 4, [0.0] * 4
    theta = list(theta0)
    for t, grads in ((1, g1), (2, g2)):
        lower = final_lr * (1 - 1 / (gamma * t + 1))  # t=1: 0.1·(1 - 1/1.1) = 0.00909
        upper = final_lr * (1 + 1 / (gamma * t))      # t=1: 0.1·(1 + 10)   = 1.1
        alpha_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        for i in range(4):
            g = grads[i] + weight_decay * theta[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            v_max[i] = max(v_max[i], v[i])
            denom = math.sqrt(v_max[i] if amsbound else v[i]) + eps
            eta = min(max(alpha_t / denom, lower), upper)
            theta[i] -= eta * m[i]
        expected.append(list(theta))

    for t, grads in enumerate((g1, g2)):
        w.grad = torch.tensor(grads, dtype=DT)
        opt.step()
        torch.testing.assert_close(w.detach(), torch.tensor(expected[t], dtype=DT),
                                   rtol=1e-13, atol=1e-15)
    if weight_decay == 0.0 and not amsbound:
        # written out: coordinate 0, step 1 is unclipped Adam, |Δθ| = α·√(1-β2)/(1-β1)·m/√v
        m1, v1 = 0.1 * 0.2, 0.001 * 0.04
        step1 = 0.01 * math.sqrt(0.001) / 0.1 / (math.sqrt(v1) + 1e-8) * m1
        assert step1 == pytest.approx(0.01, rel=1e-5)  # Adam's first step ≈ lr (ε aside)
        assert expected[0][0] == pytest.approx(0.5 - step1, rel=1e-15)
        # coordinate 2 hits the upper bound 1.1, coordinate 3 the lower bound 0.1·(1 - 1/1.1)
        assert expected[0][2] == pytest.approx(2.0 - 1.1 * 0.1 * 1e-4, rel=1e-15)
        assert expected[0][3] == pytest.approx(0.3 - 0.1 * (1 - 1 / 1.1) * 0.1 * 50.0, rel=1e-14)
    state = opt.state[w]
    assert state["step"] == 2 and ("max_exp_avg_sq" in state) == amsbound


def test_adabound_effective_rate_is_clipped_into_the_bounds():
    g = torch.Generator().manual_seed(0)
    n = 2000
    # θ = 0 (no weight decay, so θ does not enter the step): then θ_new = -η ⊙ m exactly
    zero = torch.zeros(n, dtype=DT)
    m, v = torch.zeros(n, dtype=DT), torch.zeros(n, dtype=DT)
    kw = dict(lr=1e-2, final_lr=0.05, gamma=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    hit_lower = hit_upper = 0
    for step in range(1, 30):
        # gradients spread over ten orders of magnitude, so both bounds bind somewhere
        magnitude = 10.0 ** torch.empty(n, dtype=DT).uniform_(-6, 4, generator=g)
        grad = torch.randn(n, generator=g, dtype=DT) * magnitude
        new_theta, m, v, _ = O.adabound_update(zero, grad, m, v, step=step, **kw)
        eta = -new_theta / m  # the per-coordinate rate actually used
        lower, upper = O.adabound_bounds(step, final_lr=0.05, gamma=0.01)
        assert (eta >= lower * (1 - 1e-12)).all() and (eta <= upper * (1 + 1e-12)).all()
        hit_lower += int(torch.isclose(eta, torch.tensor(lower, dtype=DT), rtol=1e-9).sum())
        hit_upper += int(torch.isclose(eta, torch.tensor(upper, dtype=DT), rtol=1e-9).sum())
    assert hit_lower > 100 and hit_upper > 100  # both bounds were active


def test_adabound_bounds_converge_to_final_lr():
    steps = [1, 10, 100, 10**3, 10**4, 10**6, 10**9]
    bounds = [O.adabound_bounds(t, final_lr=0.1, gamma=1e-3) for t in steps]
    lows, ups = zip(*bounds, strict=True)
    assert all(a < b for a, b in zip(lows, lows[1:], strict=False))  # lower bound rises
    assert all(a > b for a, b in zip(ups, ups[1:], strict=False))  # upper bound falls
    assert all(lo < 0.1 < up for lo, up in bounds)
    assert lows[-1] == pytest.approx(0.1, rel=1e-5) and ups[-1] == pytest.approx(0.1, rel=1e-5)
    # at t = 1/γ: lower = η*/2 and upper = 2η*
    assert O.adabound_bounds(1000, final_lr=0.1, gamma=1e-3) == pytest.approx((0.05, 0.2))


def test_adabound_late_steps_are_sgd_with_final_lr():
    # with a fast γ the bounds pinch to final_lr: the update becomes θ - final_lr·m
    w = torch.tensor([1.0, -2.0, 3.0], dtype=DT, requires_grad=True)
    opt = O.AdaBound([w], lr=1e-3, final_lr=0.02, gamma=0.9)
    for _ in range(5000):
        w.grad = 2 * w.detach()
        before = w.detach().clone()
        opt.step()
    m = opt.state[w]["exp_avg"]
    torch.testing.assert_close((before - w.detach()) / m, torch.full((3,), 0.02, dtype=DT),
                               rtol=1e-3, atol=0)


def test_adabound_bounds_follow_an_lr_schedule_and_survive_state_dict():
    w = torch.tensor([1.0, -1.0], dtype=DT, requires_grad=True)
    opt = O.AdaBound([w], lr=1e-2, final_lr=0.1, gamma=1e-3)
    assert opt.param_groups[0]["base_lr"] == 1e-2
    opt.param_groups[0]["lr"] = 5e-3  # a scheduler halves the lr
    w.grad = torch.tensor([1e-6, 1e-6], dtype=DT)  # tiny gradient: the upper bound binds
    opt.step()
    upper = O.adabound_bounds(1, final_lr=0.05, gamma=1e-3)[1]  # final_lr·lr/base_lr
    m = opt.state[w]["exp_avg"]
    torch.testing.assert_close(1 - w.detach()[0], upper * m[0], rtol=1e-12, atol=0)
    # a fresh optimizer built with another lr takes base_lr from the state_dict
    fresh = O.AdaBound([w], lr=0.7)
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert fresh.param_groups[0]["base_lr"] == 1e-2 and fresh.param_groups[0]["lr"] == 5e-3
    # a group may bring its own base_lr (e.g. resumed by hand); it must be positive
    resumed = O.AdaBound([{"params": [w], "lr": 1e-3, "base_lr": 4e-3}])
    assert resumed.param_groups[0]["base_lr"] == 4e-3
    with pytest.raises(ValueError, match="`base_lr` must be > 0, got 0"):
        O.AdaBound([{"params": [w], "lr": 1e-3, "base_lr": 0}])


# --------------------------------------------------------------------------- state and grads

ROUND_TRIP = [
    (O.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (O.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    (O.RMSprop, dict(lr=1e-3, momentum=0.5, centered=True)),
    (O.Adadelta, dict(weight_decay=1e-3)),
    (O.Adam, dict(lr=1e-2, amsgrad=True)),
    (O.AdamW, dict(lr=1e-2)),
    (O.AdaBound, dict(lr=1e-2, amsbound=True, weight_decay=1e-3)),
]


@pytest.mark.parametrize("cls,kwargs", ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
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


@pytest.mark.parametrize("ours,ref,kwargs", [
    (O.Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True)),
    (O.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    (O.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, centered=True, momentum=0.5)),
])
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


ALL = [
    (O.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    (O.Adagrad, dict(weight_decay=0.1)),
    (O.RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.1)),
    (O.Adadelta, dict(weight_decay=0.1)),
    (O.Adam, dict(weight_decay=0.1, amsgrad=True)),
    (O.AdamW, dict()),
    (O.AdaBound, dict(weight_decay=0.1)),
]


@pytest.mark.parametrize("cls,kwargs", ALL, ids=[c.__name__ for c, _ in ALL])
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


def test_dtype_and_device_are_kept_float32():
    w = torch.ones(3, requires_grad=True)
    opt = O.Adam([w], lr=0.1)
    w.grad = torch.ones(3)
    opt.step()
    assert w.dtype == torch.float32
    assert all(v.dtype == torch.float32 for v in opt.state[w].values() if torch.is_tensor(v))


# --------------------------------------------------------------------------- pure functions


def test_pure_functions_do_not_modify_inputs():
    g = torch.Generator().manual_seed(0)
    theta, grad, s1, s2, s3 = (torch.rand(4, generator=g, dtype=DT) for _ in range(5))
    snapshot = [x.clone() for x in (theta, grad, s1, s2, s3)]
    O.sgd_update(theta, grad, s1, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    O.adagrad_update(theta, grad, s1, step=3, lr=0.1, lr_decay=0.1, weight_decay=0.1)
    O.rmsprop_update(theta, grad, s1, s2, s3, lr=0.1, momentum=0.9, centered=True)
    O.adadelta_update(theta, grad, s1, s2, weight_decay=0.1)
    O.adam_update(theta, grad, s1, s2, s3, step=2, amsgrad=True, weight_decay=0.1)
    O.adam_update(theta, grad, s1, s2, step=2, weight_decay=0.1, decoupled_weight_decay=True)
    O.adabound_update(theta, grad, s1, s2, s3, step=2, amsbound=True, weight_decay=0.1)
    for x, y in zip((theta, grad, s1, s2, s3), snapshot, strict=True):
        assert torch.equal(x, y)


def test_inplace_mode_updates_the_given_tensors_to_the_pure_results():
    g = torch.Generator().manual_seed(1)
    theta, grad, s1, s2, s3 = (torch.rand(4, generator=g, dtype=DT) for _ in range(5))
    calls = [
        (O.sgd_update, (theta, grad, s1), dict(lr=0.1, momentum=0.9, nesterov=True)),
        (O.adagrad_update, (theta, grad, s1), dict(step=3, lr=0.1, lr_decay=0.1)),
        (O.rmsprop_update, (theta, grad, s1, s2, s3), dict(lr=0.1, momentum=0.9, centered=True)),
        (O.adadelta_update, (theta, grad, s1, s2), dict(weight_decay=0.1)),
        (O.adam_update, (theta, grad, s1, s2, s3), dict(step=2, amsgrad=True)),
        (O.adabound_update, (theta, grad, s1, s2, s3), dict(step=2, amsbound=True)),
    ]
    for f, args, kw in calls:
        pure = f(*args, **kw)
        own = [x.clone() for x in args]
        result = f(*own, **kw, inplace=True)
        for out, buf, want in zip(result, own[:1] + own[2:], pure, strict=True):
            assert out is buf  # the caller's buffer, overwritten
            assert torch.equal(out, want), f.__name__
        assert torch.equal(own[1], grad)  # the gradient is never written


def test_update_functions_reject_bad_input():
    x = torch.zeros(3, dtype=DT)
    with pytest.raises(ValueError, match="`param` and `grad` must have the same shape"):
        O.sgd_update(x, torch.zeros(2, dtype=DT), lr=0.1)
    with pytest.raises(ValueError, match="`grad` must have a floating-point dtype"):
        O.sgd_update(x, torch.zeros(3, dtype=torch.long), lr=0.1)
    with pytest.raises(TypeError, match="`param` must be a torch.Tensor"):
        O.sgd_update([0.0], x, lr=0.1)
    with pytest.raises(ValueError, match="`param` and `exp_avg_sq` must have the same shape"):
        O.adam_update(x, x, x, torch.zeros(4, dtype=DT), step=1)
    with pytest.raises(ValueError, match="`step` must be >= 1, got 0"):
        O.adam_update(x, x, x, x, step=0)
    with pytest.raises(ValueError, match="`max_exp_avg_sq` must be a tensor"):
        O.adam_update(x, x, x, x, step=1, amsgrad=True)
    with pytest.raises(ValueError, match="`max_exp_avg_sq` must be a tensor"):
        O.adabound_update(x, x, x, x, step=1, amsbound=True)
    with pytest.raises(ValueError, match="`grad_avg` must be a tensor"):
        O.rmsprop_update(x, x, x, lr=0.1, centered=True)
    with pytest.raises(ValueError, match="`momentum_buffer` must be a tensor"):
        O.rmsprop_update(x, x, x, lr=0.1, momentum=0.5)
    with pytest.raises(ValueError, match="`betas\\[1\\]` must be < 1, got 1.0"):
        O.adam_update(x, x, x, x, step=1, beta2=1.0)
    with pytest.raises(ValueError, match="`gamma` must be > 0, got 0"):
        O.adabound_bounds(1, final_lr=0.1, gamma=0)
    with pytest.raises(ValueError, match="`rho` must be <= 1"):
        O.adadelta_update(x, x, x, x, rho=2.0)
    with pytest.raises(ValueError, match="`lr_decay` must be >= 0"):
        O.adagrad_update(x, x, x, step=1, lr=0.1, lr_decay=-1.0)


# --------------------------------------------------------------------------- bad hyperparameters

BAD = [
    (O.SGD, dict(lr=-0.1), ValueError, "`lr` must be >= 0, got -0.1"),
    (O.SGD, dict(lr="0.1"), TypeError, "`lr` must be a real number"),
    (O.SGD, dict(momentum=-0.5), ValueError, "`momentum` must be >= 0"),
    (O.SGD, dict(dampening=1.5), ValueError, "`dampening` must be <= 1"),
    (O.SGD, dict(weight_decay=-1e-4), ValueError, "`weight_decay` must be >= 0"),
    (O.SGD, dict(nesterov=True), ValueError, "`nesterov=True` needs `momentum` > 0"),
    (O.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), ValueError, "`dampening` = 0"),
    (O.SGD, dict(momentum=0.9, nesterov=1), TypeError, "`nesterov` must be a bool"),
    (O.Adagrad, dict(lr_decay=-1), ValueError, "`lr_decay` must be >= 0"),
    (O.Adagrad, dict(initial_accumulator_value=-1), ValueError, "`initial_accumulator_value`"),
    (O.Adagrad, dict(eps=-1e-10), ValueError, "`eps` must be >= 0"),
    (O.RMSprop, dict(alpha=1.5), ValueError, "`alpha` must be <= 1"),
    (O.RMSprop, dict(momentum=-0.1), ValueError, "`momentum` must be >= 0"),
    (O.RMSprop, dict(centered="yes"), TypeError, "`centered` must be a bool"),
    (O.Adadelta, dict(rho=1.1), ValueError, "`rho` must be <= 1"),
    (O.Adadelta, dict(lr=float("nan")), ValueError, "`lr` must be finite"),
    (O.Adam, dict(betas=(1.0, 0.999)), ValueError, "`betas\\[0\\]` must be < 1, got 1.0"),
    (O.Adam, dict(betas=(0.9, -0.1)), ValueError, "`betas\\[1\\]` must be >= 0"),
    (O.Adam, dict(betas=0.9), ValueError, "`betas` must be a pair"),
    (O.Adam, dict(eps=-1.0), ValueError, "`eps` must be >= 0"),
    (O.Adam, dict(amsgrad=None), TypeError, "`amsgrad` must be a bool"),
    (O.Adam, dict(decoupled_weight_decay="no"), TypeError, "`decoupled_weight_decay`"),
    (O.AdamW, dict(weight_decay=-0.01), ValueError, "`weight_decay` must be >= 0"),
    (O.AdaBound, dict(lr=0.0), ValueError, "`lr` must be > 0, got 0.0"),
    (O.AdaBound, dict(final_lr=-0.1), ValueError, "`final_lr` must be >= 0"),
    (O.AdaBound, dict(gamma=0.0), ValueError, "`gamma` must be > 0"),
    (O.AdaBound, dict(gamma=1.0), ValueError, "`gamma` must be < 1"),
    (O.AdaBound, dict(betas=(0.9, 1.5)), ValueError, "`betas\\[1\\]` must be < 1"),
    (O.AdaBound, dict(amsbound=0), TypeError, "`amsbound` must be a bool"),
]


@pytest.mark.parametrize("cls,kwargs,exc,match", BAD,
                         ids=[f"{c.__name__}-{next(iter(k))}" for c, k, _, _ in BAD])
def test_bad_hyperparameters_are_rejected_naming_the_argument(cls, kwargs, exc, match):
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(exc, match=match):
        cls([w], **kwargs)


def test_bad_group_values_sparse_grads_and_complex_params_are_rejected():
    w, u = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="`lr` must be >= 0, got -1"):
        O.Adam([{"params": [w], "lr": -1}])
    opt = O.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="`momentum` must be >= 0"):
        opt.add_param_group({"params": [u], "momentum": -1})
    with pytest.raises(ValueError, match="complex parameters are not supported"):
        O.Adam([torch.zeros(2, dtype=torch.complex64, requires_grad=True)])
    emb = nn.Embedding(5, 2, sparse=True)
    emb(torch.tensor([1, 3])).sum().backward()
    with pytest.raises(ValueError, match="`grad` must be a dense \\(strided\\) tensor"):
        O.Adam(emb.parameters()).step()


# --------------------------------------------------------------------------- param_groups


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.ln = nn.LayerNorm([2, 4])  # a 2-D normalization weight: exempt by its layer
        self.emb = nn.Embedding(10, 4)
        self.act = nn.PReLU()
        self.head = nn.Linear(8, 2, bias=False)
        self.tied = nn.Linear(4, 8)
        self.tied.weight = self.fc.weight  # tied weights: listed once, as fc.weight
        self.pos_bias = nn.Parameter(torch.zeros(3, 3))  # 2-D, exempt by its name
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)
        self.shared = self.head  # the same module twice: its weight is listed once


def names_of(model, params):
    lookup = {id(p): n for n, p in model.named_parameters()}
    return sorted(lookup[id(p)] for p in params)


def test_param_groups_exempt_biases_norms_and_1d():
    net = Net()
    decay, exempt = O.param_groups(net, weight_decay=0.05)
    assert decay["weight_decay"] == 0.05 and exempt["weight_decay"] == 0.0
    assert names_of(net, decay["params"]) == ["emb.weight", "fc.weight", "head.weight"]
    assert names_of(net, exempt["params"]) == [
        "act.weight", "bn.bias", "bn.weight", "fc.bias", "ln.bias", "ln.weight", "pos_bias",
        "tied.bias"]
    trainable = [p for p in net.parameters() if p.requires_grad]
    listed = decay["params"] + exempt["params"]
    assert len(listed) == len(trainable) == len({id(p) for p in listed})
    # extra patterns: also exempt the embedding
    decay2, _ = O.param_groups(net, weight_decay=0.05, no_decay=("bias", "emb"))
    assert "emb.weight" not in names_of(net, decay2["params"])


def test_param_groups_drive_adamw_like_torch():
    net_a = Net().double()
    net_b = copy.deepcopy(net_a)
    opt_a = O.AdamW(O.param_groups(net_a, weight_decay=0.5), lr=0.1)
    opt_b = torch.optim.AdamW(O.param_groups(net_b, weight_decay=0.5), lr=0.1, foreach=False)
    for net in (net_a, net_b):
        for p in net.parameters():
            p.grad = torch.zeros_like(p) if p.requires_grad else None
    before = {n: p.detach().clone() for n, p in net_a.named_parameters()}
    opt_a.step()
    opt_b.step()
    assert_same_params(net_a, net_b, tol=1e-15)
    # zero gradient: decayed weights shrink by 1 - lr·λ = 0.95, exempt ones stay put
    torch.testing.assert_close(net_a.fc.weight, 0.95 * before["fc.weight"])
    assert torch.equal(net_a.ln.weight, before["ln.weight"])
    assert torch.equal(net_a.fc.bias, before["fc.bias"])


def test_param_groups_rejects_bad_input():
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module"):
        O.param_groups([torch.zeros(2)], weight_decay=0.1)
    with pytest.raises(ValueError, match="`weight_decay` must be >= 0"):
        O.param_groups(nn.Linear(2, 2), weight_decay=-0.1)
    with pytest.raises(TypeError, match="`no_decay` must be an iterable of str, got the str"):
        O.param_groups(nn.Linear(2, 2), weight_decay=0.1, no_decay="bias")
    with pytest.raises(TypeError, match="`no_decay` must be an iterable of str"):
        O.param_groups(nn.Linear(2, 2), weight_decay=0.1, no_decay=[1])


# --------------------------------------------------------------------------- linear scaling


def test_linear_scaling():
    assert O.linear_scaling(0.1, 256) == 0.1
    assert O.linear_scaling(0.1, 8192) == pytest.approx(3.2, rel=1e-15)  # Goyal et al.'s largest
    assert O.linear_scaling(0.4, 32, base_batch_size=128) == pytest.approx(0.1, rel=1e-15)
    with pytest.raises(ValueError, match="`batch_size` must be >= 1, got 0"):
        O.linear_scaling(0.1, 0)
    with pytest.raises(TypeError, match="`batch_size` must be an int"):
        O.linear_scaling(0.1, 32.0)
    with pytest.raises(ValueError, match="`base_lr` must be >= 0"):
        O.linear_scaling(-0.1, 32)
    with pytest.raises(ValueError, match="`base_batch_size` must be >= 1"):
        O.linear_scaling(0.1, 32, base_batch_size=0)


# --------------------------------------------------------------------------- clipping


def grads_pair(seed, scale):
    """Two identical parameter lists with gradients (one parameter without a gradient)."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(4, 3), (3,), (2, 2, 2), (5,)]
    ps = [torch.zeros(s, dtype=DT, requires_grad=True) for s in shapes]
    for p in ps[:-1]:
        p.grad = torch.randn(p.shape, generator=g, dtype=DT) * scale
    qs = [p.detach().clone().requires_grad_(True) for p in ps]
    for p, q in zip(ps, qs, strict=True):
        q.grad = None if p.grad is None else p.grad.clone()
    return ps, qs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.0, 0.5, 1e6])
@pytest.mark.parametrize("seed", [0, 1])
def test_clip_grad_norm_equals_torch(norm_type, max_norm, seed):
    ps, qs = grads_pair(seed, scale=3.0)
    total = O.clip_grad_norm(ps, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(qs, max_norm, norm_type=norm_type, foreach=False)
    torch.testing.assert_close(total, ref, rtol=1e-14, atol=0)
    for p, q in zip(ps, qs, strict=True):
        if q.grad is None:
            assert p.grad is None
        else:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-14, atol=0)
    new_norm = O.clip_grad_norm(ps, 1e300, norm_type=norm_type)
    assert new_norm <= max(max_norm, 0.0) * (1 + 1e-9) or max_norm == 1e6


def test_clip_grad_norm_single_tensor_no_grads_and_direction():
    w = torch.zeros(2, dtype=DT, requires_grad=True)
    w.grad = torch.tensor([3.0, 4.0], dtype=DT)
    assert O.clip_grad_norm(w, 1.0).item() == 5.0
    torch.testing.assert_close(w.grad, torch.tensor([0.6, 0.8], dtype=DT), rtol=1e-6, atol=0)
    nothing = [torch.zeros(2, requires_grad=True)]
    assert torch.equal(O.clip_grad_norm(nothing, 1.0),
                       torch.nn.utils.clip_grad_norm_(nothing, 1.0))


@pytest.mark.parametrize("clip_value", [0.0, 0.5, 10.0])
def test_clip_grad_value_equals_torch(clip_value):
    ps, qs = grads_pair(2, scale=2.0)
    assert O.clip_grad_value(ps, clip_value) is None
    torch.nn.utils.clip_grad_value_(qs, clip_value, foreach=False)
    for p, q in zip(ps, qs, strict=True):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad)
            assert p.grad.abs().max() <= clip_value


def test_clipping_rejects_bad_input():
    w = torch.zeros(2, requires_grad=True)
    w.grad = torch.ones(2)
    with pytest.raises(ValueError, match="`max_norm` must be >= 0"):
        O.clip_grad_norm([w], -1.0)
    with pytest.raises(ValueError, match="`norm_type` must be > 0"):
        O.clip_grad_norm([w], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="`norm_type` must be a real number"):
        O.clip_grad_norm([w], 1.0, norm_type="2")
    with pytest.raises(ValueError, match="`clip_value` must be >= 0"):
        O.clip_grad_value([w], -0.5)
    with pytest.raises(TypeError, match="`parameters` must be a tensor or an iterable"):
        O.clip_grad_norm(3.0, 1.0)
    with pytest.raises(TypeError, match="`parameters` must be a torch.Tensor"):
        O.clip_grad_value([1.0, 2.0], 1.0)
    assert torch.equal(w.grad, torch.ones(2))  # rejected calls changed nothing
