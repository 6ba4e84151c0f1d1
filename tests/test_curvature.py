"""course_utils.curvature: Hessian-vector products and the top eigenvalue where the answer is known,
determinism, and sharpness recorded during training without disturbing it."""
import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from course_utils import curvature, training
from course_utils.surfaces import make_bowl


def random_symmetric(seed, eigenvalues):
    """A symmetric float64 matrix with the given eigenvalues and random axes."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    return torch.tensor(q @ np.diag(eigenvalues) @ q.T)


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def tiny_data(seed=1, n=12):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (n,), generator=g)


def full_hessian(model, loss_fn, x, y):
    """The full Hessian of the mean loss w.r.t. all parameters, flattened, by torch.autograd.functional.hessian."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    theta = curvature.flatten(p.detach() for p in model.parameters())

    def loss_of(flat):
        pieces = torch.split(flat, [math.prod(s) for s in shapes])
        params = {n: piece.view(s) for n, piece, s in zip(names, pieces, shapes)}
        return loss_fn(functional_call(model, params, (x,)), y)

    return torch.autograd.functional.hessian(loss_of, theta)


# ----------------------------------------------------------------------------- quadratics

@pytest.mark.parametrize("eigenvalues", [[10.0, 1.0], [0.5, 3.0, 7.0, 2.0], list(np.geomspace(0.01, 500, 20))])
def test_top_eigenvalue_of_symmetric_matrices(eigenvalues):
    A = random_symmetric(len(eigenvalues), eigenvalues)
    e = curvature.top_eigenvalue(lambda v: A @ v, dim=A.shape[0], tol=1e-10, max_iterations=2000, dtype=A.dtype)
    assert e.converged and e.rel_change <= 1e-10
    assert e.value == pytest.approx(max(eigenvalues), rel=1e-6)
    # the vector is the top eigenvector: A v = λ v
    assert torch.allclose(A @ e.vector, e.value * e.vector, atol=1e-3 * max(eigenvalues))
    assert len(e.history) == e.num_iterations and e.history[-1] == e.value


def test_bowl_of_lesson_02_through_torch():
    bowl = make_bowl((1.0, 10.0), angle_deg=30.0)
    A = torch.tensor(bowl.A)
    w = torch.tensor([-1.8, 1.2], dtype=torch.float64, requires_grad=True)
    H = curvature.HessianOperator.from_closure(lambda: 0.5 * w @ A @ w, [w])
    for column in range(2):
        assert torch.allclose(H(torch.eye(2, dtype=torch.float64)[column]), A[:, column])
    e = curvature.top_eigenvalue(H, H.dim, tol=1e-12, dtype=torch.float64)
    assert e.value == pytest.approx(bowl.lambda_max, rel=1e-9)
    assert 2 / e.value == pytest.approx(bowl.max_stable_lr, rel=1e-9)


def test_negative_dominant_eigenvalue_still_gives_the_largest():
    A = random_symmetric(3, [2.0, -9.0, 0.5, -1.0])
    e = curvature.top_eigenvalue(lambda v: A @ v, dim=4, tol=1e-10, max_iterations=5000, dtype=A.dtype)
    assert e.converged
    assert e.value == pytest.approx(2.0, rel=1e-6)


def test_non_convergence_is_reported():
    A = random_symmetric(4, [1.0, 0.99, 0.5])  # eigengap 1 %: three iterations are far from enough
    e = curvature.top_eigenvalue(lambda v: A @ v, dim=3, tol=1e-9, max_iterations=3, dtype=A.dtype)
    assert not e.converged and e.num_iterations == 3 and e.rel_change > 1e-9
    assert "NOT converged" in str(e) and "max_iterations=3" in str(e)


def test_residual_bounds_the_distance_to_an_eigenvalue():
    eigenvalues = [5.0, 4.5, 1.0, 0.2]
    A = random_symmetric(5, eigenvalues)
    e = curvature.top_eigenvalue(lambda v: A @ v, dim=4, tol=1e-3, max_iterations=100, dtype=A.dtype)
    distance = min(abs(e.value - lam) for lam in eigenvalues)
    assert distance <= e.residual * abs(e.value) + 1e-12


def test_deterministic_with_a_seed_and_warm_start_saves_work():
    A = random_symmetric(6, list(np.linspace(1.0, 8.0, 30)))
    run = lambda seed, v0=None: curvature.top_eigenvalue(lambda v: A @ v, dim=30, tol=1e-6, max_iterations=500,
                                                         seed=seed, v0=v0, dtype=A.dtype)
    a, b, c = run(0), run(0), run(1)
    assert a.value == b.value and torch.equal(a.vector, b.vector) and a.num_iterations == b.num_iterations
    assert c.value == pytest.approx(a.value, rel=1e-4)  # another start, same answer within the tolerance
    warm = run(2, v0=a.vector)
    assert warm.num_iterations < a.num_iterations


def test_global_rng_untouched_by_the_random_start():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    curvature.random_unit_vector(10, seed=5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=None), "give dim"),
    (dict(dim=3, tol=0), "tol must be a positive"),
    (dict(dim=3, max_iterations=1), "max_iterations must be an integer >= 2"),
    (dict(v0=torch.zeros(3)), "non-zero"),
])
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        curvature.top_eigenvalue(lambda v: v, **kwargs)


def test_non_finite_products_are_an_error():
    with pytest.raises(ValueError, match="NaN or infinity"):
        curvature.top_eigenvalue(lambda v: v * float("nan"), dim=3)


# ----------------------------------------------------------------------------- networks against the full Hessian

@pytest.mark.parametrize("chunk_size", [None, 5])
@pytest.mark.parametrize("cache", [None, False])
def test_hessian_vector_products_match_the_full_hessian(chunk_size, cache):
    model, (x, y) = tiny_net(), tiny_data()
    loss_fn = nn.functional.cross_entropy
    H_full = full_hessian(model, loss_fn, x, y)
    H = curvature.HessianOperator(model, loss_fn, (x, y), chunk_size=chunk_size, cache=cache)
    assert H.dim == H_full.shape[0] == 26
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        v = torch.randn(H.dim, generator=g, dtype=torch.float64)
        assert torch.allclose(H(v), H_full @ v, atol=1e-10)
    assert H.num_calls == 3


def test_sharpness_of_a_tiny_network_is_the_top_eigenvalue_of_its_hessian():
    model, (x, y) = tiny_net(2), tiny_data(3, n=20)
    loss_fn = lambda out, t: 0.5 * ((out - nn.functional.one_hot(t, 2).double()) ** 2).sum(1).mean()
    eigenvalues = torch.linalg.eigvalsh(full_hessian(model, loss_fn, x, y))
    e = curvature.sharpness(model, loss_fn, (x, y), tol=1e-10, max_iterations=5000)
    assert e.converged
    assert e.value == pytest.approx(eigenvalues.max().item(), rel=1e-6)


def test_batches_given_as_a_list_weight_each_row_equally():
    model, (x, y) = tiny_net(), tiny_data(n=10)
    whole = curvature.HessianOperator(model, nn.functional.cross_entropy, (x, y))
    uneven = curvature.HessianOperator(model, nn.functional.cross_entropy, [(x[:7], y[:7]), (x[7:], y[7:])])
    v = torch.linspace(-1, 1, whole.dim, dtype=torch.float64)
    assert torch.allclose(whole(v), uneven(v), atol=1e-12)


def test_the_cache_follows_the_weights():
    model, (x, y) = tiny_net(), tiny_data()
    H = curvature.HessianOperator(model, nn.functional.cross_entropy, (x, y), cache=True)
    v = torch.ones(H.dim, dtype=torch.float64)
    before = H(v)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    fresh = curvature.HessianOperator(model, nn.functional.cross_entropy, (x, y))(v)
    after = H(v)
    assert not torch.allclose(before, after) and torch.allclose(after, fresh, atol=1e-12)


def test_operator_errors():
    model, (x, y) = tiny_net(), tiny_data()
    with pytest.raises(ValueError, match="shape"):
        curvature.HessianOperator(model, nn.functional.cross_entropy, (x, y))(torch.ones(5))
    with pytest.raises(ValueError, match="one number"):
        H = curvature.HessianOperator(model, lambda out, t: out.sum(1), (x, y))
        H(torch.ones(H.dim, dtype=torch.float64))
    with pytest.raises(ValueError, match="same number of rows"):
        curvature.HessianOperator(model, nn.functional.cross_entropy, (x, y[:3]))
    with pytest.raises(ValueError, match="no trainable parameters"):
        curvature.HessianOperator(model.requires_grad_(False), nn.functional.cross_entropy, (x, y))


def test_sharpness_leaves_grads_buffers_modes_and_rng_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
    nn.functional.cross_entropy(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    state = copy.deepcopy(model.state_dict())
    rng = torch.get_rng_state()
    e = curvature.sharpness(model, nn.functional.cross_entropy, (x, y), tol=1e-4)
    assert e.value > 0
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng) and model.training


# ----------------------------------------------------------------------------- Adam's preconditioner

def test_adam_preconditioner_is_the_one_torch_adam_divides_by():
    model, (x, y) = tiny_net(), tiny_data()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        before = [p.detach().clone() for p in model.parameters()]
        opt.step()
    # the last step moved each weight by -lr * exp_avg / P, P read after the step (same t)
    P = curvature.adam_preconditioner(opt)
    m = curvature.flatten(opt.state[p]["exp_avg"] for p in model.parameters())
    moved = curvature.flatten(p.detach() - b for p, b in zip(model.parameters(), before))
    assert torch.allclose(moved, -1e-2 * m / P, rtol=1e-6, atol=1e-12)


def test_preconditioned_sharpness_against_the_full_matrix():
    model, (x, y) = tiny_net(4), tiny_data(5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(4):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    P = curvature.adam_preconditioner(opt)
    H = full_hessian(model, nn.functional.cross_entropy, x, y)
    expected = torch.linalg.eigvals(torch.diag(1 / P) @ H).real.max().item()
    e = curvature.preconditioned_sharpness(model, nn.functional.cross_entropy, (x, y), opt, tol=1e-10,
                                           max_iterations=5000)
    assert e.value == pytest.approx(expected, rel=1e-6)


def test_adam_preconditioner_needs_a_step_and_adam():
    model = tiny_net()
    with pytest.raises(ValueError, match="not taken a step"):
        curvature.adam_preconditioner(torch.optim.Adam(model.parameters()))
    with pytest.raises(ValueError, match="not supported"):
        curvature.adam_preconditioner(torch.optim.SGD(model.parameters(), lr=0.1))


def test_stability_thresholds():
    params = tiny_net().parameters()
    assert curvature.stability_threshold("gd", 0.02).value == pytest.approx(100.0)
    t = curvature.stability_threshold(torch.optim.SGD(tiny_net().parameters(), lr=0.1, momentum=0.9))
    assert t.quantity == "sharpness" and t.value == pytest.approx(38.0)
    t = curvature.stability_threshold(torch.optim.Adam(params, lr=1e-3))
    assert t.quantity == "preconditioned sharpness" and t.value == pytest.approx(38_000.0)
    assert curvature.stability_threshold("adam", 1e-3, beta1=0.0).value == pytest.approx(2000.0)
    for bad in (torch.optim.AdamW(tiny_net().parameters()),
                torch.optim.SGD(tiny_net().parameters(), lr=0.1, momentum=0.9, nesterov=True)):
        with pytest.raises(ValueError):
            curvature.stability_threshold(bad)
    with pytest.raises(ValueError, match="lr must be"):
        curvature.stability_threshold("gd", -1.0)


# ----------------------------------------------------------------------------- recording during training

def _train(optimizer_name, monitor_kwargs=None, steps=12):
    """A few steps of a model with dropout and BatchNorm (global RNG and buffers in play), optionally monitored."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)
    opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer_name == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-2))
    monitor = None
    if monitor_kwargs is not None:
        monitor = curvature.SharpnessMonitor(model, nn.functional.cross_entropy, (x[:20], y[:20]), **monitor_kwargs)
        monitor.attach(opt)
    losses = []
    for step in range(steps):
        batch = slice(10 * (step % 4), 10 * (step % 4) + 10)
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, opt, losses, monitor, torch.rand(2)


@pytest.mark.parametrize("optimizer_name, kwargs", [
    ("sgd", dict(every=3)),
    ("adam", dict(every=4, preconditioned=True)),
    ("adam", dict(every=5)),
])
def test_a_monitored_run_is_bit_for_bit_the_unmonitored_run(optimizer_name, kwargs):
    plain_model, plain_opt, plain_losses, _, plain_next = _train(optimizer_name)
    model, opt, losses, monitor, next_random = _train(optimizer_name, kwargs)
    assert losses == plain_losses
    for (k, a), (_, b) in zip(model.state_dict().items(), plain_model.state_dict().items()):
        assert torch.equal(a, b), k
    for p, q in zip(model.parameters(), plain_model.parameters()):
        for key, value in opt.state[p].items():
            assert torch.equal(value, plain_opt.state[q][key]), key
    assert torch.equal(next_random, plain_next)  # the global RNG is where it would have been
    expected = [s for s in range(12) if s % kwargs["every"] == 0 and (s > 0 or not kwargs.get("preconditioned"))]
    assert monitor.trace.step == expected and len(monitor.trace) == len(expected)
    assert all(v > 0 for v in monitor.trace.value)


def test_monitor_inside_training_fit():
    torch.manual_seed(0)
    batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(5)]

    def run(monitored):
        torch.manual_seed(1)
        model = nn.Linear(4, 3)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        monitor = None
        if monitored:
            monitor = curvature.SharpnessMonitor(model, nn.functional.cross_entropy, batches[0], every=4).attach(opt)
        history = training.fit(model, batches, None, opt, num_epochs=2, progress=False)
        return model, history, monitor

    model, history, monitor = run(True)
    plain_model, plain_history, _ = run(False)
    assert history.step_loss == plain_history.step_loss
    assert torch.equal(model.weight, plain_model.weight)
    assert monitor.trace.step == [0, 4, 8]
    monitor.detach()
    assert monitor._handle is None


def test_monitor_warm_starts_and_validates():
    model, (x, y) = tiny_net(), tiny_data()
    monitor = curvature.SharpnessMonitor(model, nn.functional.cross_entropy, (x, y), every=1, tol=1e-8,
                                         max_iterations=1000)
    first = monitor.record(0)
    second = monitor.record(1)  # same weights, started from the first eigenvector
    assert second.value == pytest.approx(first.value, rel=1e-6) and second.num_iterations < first.num_iterations
    with pytest.raises(ValueError, match="every must be"):
        curvature.SharpnessMonitor(model, nn.functional.cross_entropy, (x, y), every=0)
    with pytest.raises(ValueError, match="attach the monitor"):
        curvature.SharpnessMonitor(model, nn.functional.cross_entropy, (x, y), preconditioned=True).record(0)


# ----------------------------------------------------------------------------- Lanczos

@pytest.mark.parametrize("eigenvalues", [[10.0, 1.0], [2.0, -9.0, 0.5, -1.0], list(np.linspace(1.0, 5.0, 40))])
def test_lanczos_finds_the_largest_eigenvalue(eigenvalues):
    A = random_symmetric(7, eigenvalues)
    e = curvature.top_eigenvalue(lambda v: A @ v, dim=A.shape[0], tol=1e-12, max_iterations=200, method="lanczos",
                                 dtype=A.dtype)
    assert e.converged and e.value == pytest.approx(max(eigenvalues), rel=1e-8)
    assert torch.allclose(A @ e.vector, e.value * e.vector, atol=1e-6 * max(map(abs, eigenvalues)))


def test_lanczos_needs_far_fewer_products_when_the_top_eigenvalues_crowd():
    eigenvalues = list(np.linspace(9.0, 10.0, 10)) + list(np.linspace(0.0, 1.0, 190))  # ten close outliers
    A = random_symmetric(8, eigenvalues)
    run = lambda method: curvature.top_eigenvalue(lambda v: A @ v, dim=200, tol=1e-6, max_iterations=2000,
                                                  method=method, dtype=A.dtype)
    power, lanczos = run("power"), run("lanczos")
    assert lanczos.converged and lanczos.value == pytest.approx(10.0, rel=1e-5)
    assert lanczos.num_iterations * 3 < power.num_iterations
    assert abs(power.value - 10.0) > abs(lanczos.value - 10.0)


def test_unknown_method_is_an_error():
    with pytest.raises(ValueError, match="method must be"):
        curvature.top_eigenvalue(lambda v: v, dim=3, method="arnoldi")


# ----------------------------------------------------------------------------- full-batch GD and its figures

def test_full_batch_gd_records_loss_and_sharpness_and_matches_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(30, 6, generator=g), torch.randint(0, 3, (30,), generator=g)

    def net():
        torch.manual_seed(3)
        return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))

    run = curvature.full_batch_gd(net(), curvature.square_loss, x, y, lr=0.2, num_steps=25, every=10,
                                  method="lanczos", progress=False)
    plain, losses = net(), []
    opt = torch.optim.SGD(plain.parameters(), lr=0.2)
    for _ in range(25):
        loss = curvature.square_loss(plain(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert run.loss == losses and not run.diverged
    assert run.trace.step == [0, 10, 20] and all(run.trace.converged)
    first = curvature.sharpness(net(), curvature.square_loss, (x, y), tol=1e-8, max_iterations=500)
    assert run.trace.value[0] == pytest.approx(first.value, rel=1e-2)


def test_full_batch_gd_stops_on_divergence_and_validates():
    torch.manual_seed(0)
    x, y = torch.randn(20, 4), torch.randint(0, 2, (20,))
    run = curvature.full_batch_gd(nn.Linear(4, 2), curvature.square_loss, x * 100, y, lr=10.0, num_steps=200,
                                  every=1000, progress=False)
    assert run.diverged and not math.isfinite(run.loss[-1]) and len(run.loss) < 200
    with pytest.raises(ValueError, match="lr must be"):
        curvature.full_batch_gd(nn.Linear(4, 2), curvature.square_loss, x, y, lr=0.0, num_steps=5)
    with pytest.raises(ValueError, match="num_steps"):
        curvature.full_batch_gd(nn.Linear(4, 2), curvature.square_loss, x, y, lr=0.1, num_steps=0)


def test_square_loss():
    out = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert curvature.square_loss(out, torch.tensor([0, 1])).item() == pytest.approx((0 + 0.25) / 2)
    with pytest.raises(ValueError, match="must be"):
        curvature.square_loss(out, torch.tensor([0]))


def test_plot_sharpness_draws_the_data_and_the_thresholds_it_is_given():
    import matplotlib
    matplotlib.use("Agg")
    from course_utils import plotting

    ax = plotting.plot_sharpness({"a": ([0, 10, 20], [1.0, 2.0, 3.0]), "b": ([0, 5], [4.0, 5.0])}, {"a": 2.5})
    lines = ax.get_lines()
    assert list(lines[0].get_xdata()) == [0, 10, 20] and list(lines[0].get_ydata()) == [1.0, 2.0, 3.0]
    assert list(lines[1].get_ydata()) == [2.5, 2.5] and lines[1].get_color() == lines[0].get_color()
    assert list(lines[2].get_ydata()) == [4.0, 5.0] and len(lines) == 3     # no threshold given for "b"
    ax = plotting.plot_seed_spread({"x": [0.1, 0.3], "y": [0.2, 0.2, 0.5]})
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [list(d.get_ydata()) for d in dots] == [[0.1, 0.3], [0.2, 0.2, 0.5]]
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.2, 0.3])
