"""course_utils.curvature: Hessian-vector products against the full Hessian, the sharpness of small networks,
Adam's preconditioner, the stability thresholds; the model left as it was."""
import copy
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from course_utils import curvature
from course_utils.eigen import top_eigenvalue
from course_utils.surfaces import make_bowl


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


# ----------------------------------------------------------------------------- a bowl

def test_bowl_of_lesson_02_through_torch():
    bowl = make_bowl((1.0, 10.0), angle_deg=30.0)
    A = torch.tensor(bowl.A)
    w = torch.tensor([-1.8, 1.2], dtype=torch.float64, requires_grad=True)
    H = curvature.HessianOperator.from_closure(lambda: 0.5 * w @ A @ w, [w])
    for column in range(2):
        assert torch.allclose(H(torch.eye(2, dtype=torch.float64)[column]), A[:, column])
    e = top_eigenvalue(H, H.dim, tol=1e-12, dtype=torch.float64)
    assert e.value == pytest.approx(bowl.lambda_max, rel=1e-9)
    assert 2 / e.value == pytest.approx(bowl.max_stable_lr, rel=1e-9)


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
