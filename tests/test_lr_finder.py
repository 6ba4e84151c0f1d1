"""The range test: its schedule and smoothing, the caller's state left alone, agreement with
torch-lr-finder, a bowl whose answer is known, and the suggestion rules."""
import copy
import itertools
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import bowl_model, data, lr_finder, models, surfaces, torch_lr_finder_adapter

# ----------------------------------------------------------------------------- small problems


def _classification(seed=5, n=512, features=20, classes=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    w = torch.randn(features, classes, generator=g)
    return torch.utils.data.TensorDataset(x, (x @ w).argmax(1))


DATASET = _classification()


def _mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5))


def _loader(seed, batch_size=32):
    """A shuffling DataLoader with its own generator: the same seed gives the same batches."""
    return torch.utils.data.DataLoader(DATASET, batch_size=batch_size, shuffle=True,
                                       generator=torch.Generator().manual_seed(seed))


OPTIMIZERS = {
    "sgd+momentum": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3),
}
SETTINGS = dict(start_lr=1e-5, end_lr=10.0, num_steps=100, beta=0.95, diverge_factor=5.0)


# ----------------------------------------------------------------------------- schedule and smoothing

def test_exponential_sweep_has_a_constant_ratio_and_hits_both_ends():
    lrs = lr_finder.sweep_lrs(1e-6, 10.0, 71)
    assert lrs[0] == pytest.approx(1e-6, rel=1e-12) and lrs[-1] == pytest.approx(10.0, rel=1e-12)
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, 10 ** (7 / 70), rtol=1e-12)
    linear = lr_finder.sweep_lrs(0.01, 1.0, 100, mode="linear")
    assert np.allclose(np.diff(linear), 0.01, rtol=1e-9)


@pytest.mark.parametrize("args, match", [
    ((0.0, 1.0, 10), "lr"), ((1.0, 0.1, 10), "larger than start_lr"), ((1e-3, 1.0, 1), "num_steps"),
    ((1e-3, 1.0, 10.5), "num_steps"), ((1e-3, 1.0, 10, "cosine"), "mode"),
])
def test_sweep_rejects_bad_settings(args, match):
    with pytest.raises(ValueError, match=match):
        lr_finder.sweep_lrs(*args)


def test_bias_corrected_average_is_the_normalised_weighted_mean():
    rng = np.random.default_rng(0)
    losses = rng.uniform(1.0, 3.0, 40)
    beta = 0.9
    smoothed = lr_finder.smooth_losses(losses, beta)
    for t in range(len(losses)):  # weights beta^(t-k) over k = 0..t, normalised to sum 1
        weights = beta ** np.arange(t, -1, -1)
        assert smoothed[t] == pytest.approx(np.sum(weights * losses[:t + 1]) / weights.sum(), rel=1e-12)
    assert lr_finder.smooth_losses(losses, 0.0).tolist() == losses.tolist()   # beta = 0: no smoothing
    assert np.allclose(lr_finder.smooth_losses(np.full(30, 2.5), 0.98), 2.5)    # no pull towards 0


def test_undebiased_average_starts_at_the_first_loss_and_differs_by_at_most_beta_to_the_t():
    rng = np.random.default_rng(1)
    losses = rng.uniform(1.0, 3.0, 200)
    beta = 0.95
    plain = lr_finder.smooth_losses(losses, beta, debias=False)
    assert plain[0] == losses[0] and plain[1] == pytest.approx(beta * losses[0] + (1 - beta) * losses[1])
    gap = np.abs(plain - lr_finder.smooth_losses(losses, beta))
    spread = np.maximum.accumulate(losses) - np.minimum.accumulate(losses)
    # both are weighted means of losses[:t+1]; their weights differ by at most beta^t in all
    assert np.all(gap <= beta ** np.arange(len(losses)) * spread + 1e-12)


@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5])
def test_smoothing_rejects_beta_outside_0_1(beta):
    with pytest.raises(ValueError, match="beta"):
        lr_finder.smooth_losses([1.0, 2.0], beta)


def test_stop_index():
    assert lr_finder.stop_index([3.0, 2.0, 1.0, 2.5, 5.0], 4) == 4
    assert lr_finder.stop_index([3.0, 2.0, 1.0, 2.5, 3.9], 4) is None
    assert lr_finder.stop_index([3.0, 2.0, 1.0], 4, losses=[3.0, float("nan"), 1.0]) == 1
    with pytest.raises(ValueError, match="diverge_factor"):
        lr_finder.stop_index([1.0, 2.0], 1.0)


# ----------------------------------------------------------------------------- the range test itself

def test_range_test_records_the_schedule_and_the_raw_losses():
    model = _mlp(0)
    sweep = lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(0),
                                 progress=False, **SETTINGS)
    assert sweep.stop_reason == "diverged" and sweep.stopped_early
    n = sweep.num_steps
    assert np.allclose(sweep.lrs, lr_finder.sweep_lrs(1e-5, 10.0, 100)[:n], rtol=1e-12)
    assert np.allclose(sweep.smoothed, lr_finder.smooth_losses(sweep.losses, 0.95))
    assert sweep.smoothed[-1] > 5 * sweep.smoothed[:-1].min()          # the stopping step is kept
    assert np.all(sweep.smoothed[:-1] <= 5 * np.minimum.accumulate(sweep.smoothed[:-1]))
    # the first loss is the untrained model's loss on the first batch
    x, y = next(iter(_loader(0)))
    assert sweep.losses[0] == pytest.approx(nn.functional.cross_entropy(_mlp(0)(x), y).item(), rel=1e-6)


def test_resmooth_is_the_range_test_with_those_settings():
    runs = {}
    for factor in (math.inf, 4.0):
        model = _mlp(1)
        runs[factor] = lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                                            _loader(1), start_lr=1e-5, end_lr=10.0, num_steps=100, beta=0.98,
                                            diverge_factor=factor, progress=False)
    again = runs[math.inf].resmooth(diverge_factor=4.0)
    assert again.num_steps == runs[4.0].num_steps < runs[math.inf].num_steps
    assert again.stop_reason == runs[4.0].stop_reason == "diverged"
    assert np.allclose(again.losses, runs[4.0].losses, rtol=1e-6)
    assert np.allclose(again.smoothed, runs[4.0].smoothed, rtol=1e-6)
    rough = runs[4.0].resmooth(beta=0.0)
    assert np.array_equal(rough.smoothed, rough.losses)


class TeachingSGD(torch.optim.Optimizer):
    """A course-style optimizer: SGD with heavy-ball momentum, state in self.state[p]."""

    def __init__(self, params, lr=0.01, momentum=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                buf = state.get("momentum_buffer")
                buf = p.grad.clone() if buf is None else buf.mul_(group["momentum"]).add_(p.grad)
                state["momentum_buffer"] = buf
                p.add_(buf, alpha=-group["lr"])


def test_accepts_a_course_optimizer_and_gets_what_torch_sgd_gets():
    sweeps = []
    for make in (lambda ps: TeachingSGD(ps, lr=0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)):
        model = _mlp(2)
        sweeps.append(lr_finder.range_test(model, make(model.parameters()), _loader(2), progress=False, **SETTINGS))
    ours, torchs = sweeps
    assert ours.num_steps == torchs.num_steps
    assert np.allclose(ours.losses, torchs.losses, rtol=1e-5, atol=1e-6)


def test_rejects_what_is_not_an_optimizer_and_one_shot_iterators():
    model = _mlp(0)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        lr_finder.range_test(model, object(), _loader(0), progress=False)
    one_shot = iter([(torch.randn(8, 20), torch.randint(0, 5, (8,)))])
    with pytest.raises(ValueError, match="one-shot iterator"):
        lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), one_shot, num_steps=5,
                             progress=False)


def test_a_non_finite_loss_stops_the_test_and_is_kept():
    model = _mlp(0)

    def loss_fn(output, target):
        loss = nn.functional.cross_entropy(output, target)
        return loss if loss_fn.calls < 7 else loss * float("nan")
    loss_fn.calls = 0

    def counted(output, target):
        loss_fn.calls += 1
        return loss_fn(output, target)

    sweep = lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(0), loss_fn=counted,
                                 start_lr=1e-5, end_lr=1e-3, num_steps=50, progress=False)
    assert sweep.stop_reason == "non-finite" and sweep.num_steps == 7 and math.isnan(sweep.losses[-1])
    assert all(np.isfinite(p).all() for p in (q.detach().numpy() for q in model.parameters()))


# ----------------------------------------------------------------------------- leaving the caller's state alone

class NetWithEverything(nn.Module):
    """BatchNorm (running stats, a step counter), dropout (draws random numbers), a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 5))
        self.register_buffer("calls", torch.zeros(()), persistent=False)

    def forward(self, x):
        self.calls += 1
        return self.body(x)


def _snapshot(model, optimizer):
    return (
        {k: v.detach().clone() for k, v in model.named_parameters()},
        {k: (None if p.grad is None else p.grad.clone()) for k, p in model.named_parameters()},
        {k: v.detach().clone() for k, v in model.named_buffers()},
        {k: m.training for k, m in model.named_modules()},
        copy.deepcopy(optimizer.state_dict()),
        {id(t): t for state in optimizer.state.values() for t in state.values() if torch.is_tensor(t)},
    )


def _assert_same_state(before, after):
    params0, grads0, buffers0, modes0, opt0, tensors0 = before
    params1, grads1, buffers1, modes1, opt1, tensors1 = after
    assert all(torch.equal(params0[k], params1[k]) for k in params0)
    assert all((grads0[k] is None and grads1[k] is None) or torch.equal(grads0[k], grads1[k]) for k in grads0)
    assert buffers0.keys() == buffers1.keys() and all(torch.equal(buffers0[k], buffers1[k]) for k in buffers0)
    assert modes0 == modes1
    assert opt0["param_groups"] == opt1["param_groups"]
    assert opt0["state"].keys() == opt1["state"].keys()
    for key, state in opt0["state"].items():
        for name, value in state.items():
            other = opt1["state"][key][name]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other
    assert tensors0.keys() == tensors1.keys()  # the same state tensors, restored in place


@pytest.mark.parametrize("warm", [False, True], ids=["fresh optimizer", "optimizer with state"])
def test_the_callers_model_and_optimizer_are_left_as_they_were(warm):
    torch.manual_seed(0)
    model = NetWithEverything()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=1e-4)
    if warm:  # a few real steps: Adam has moments and step counts, BatchNorm has statistics, grads are set
        for x, y in itertools.islice(_loader(3), 3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    model.body[1].eval()  # a module the caller left in eval mode
    before = _snapshot(model, optimizer)
    seen = []
    hook = model.register_forward_hook(lambda module, inputs, output: seen.append(output.detach().clone()))
    sweep = lr_finder.range_test(model, optimizer, _loader(3), start_lr=1e-4, end_lr=1.0, num_steps=40, progress=False)
    hook.remove()
    assert sweep.num_steps == len(seen) > 10 and not torch.equal(seen[0], seen[-1])  # it did train
    _assert_same_state(before, _snapshot(model, optimizer))
    assert optimizer.param_groups[0]["lr"] == 3e-4
    assert bool(warm) == bool(optimizer.state)  # a fresh optimizer stays fresh


def test_global_random_generators_draw_as_if_no_range_test_ran():
    def draws():
        return torch.rand(2).tolist(), np.random.rand(2).tolist(), random.random()

    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    without = draws()
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    model = NetWithEverything()  # dropout draws from torch's generator during the sweep
    torch.manual_seed(5)
    lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1),
                         torch.utils.data.DataLoader(DATASET, batch_size=32, shuffle=True),  # global-RNG shuffle
                         start_lr=1e-4, end_lr=1.0, num_steps=30, progress=False)
    assert draws() == without


def test_parameters_are_restored_even_when_the_test_fails_midway():
    model = _mlp(0)
    before = [p.detach().clone() for p in model.parameters()]

    def broken(output, target):
        broken.calls += 1
        if broken.calls == 5:
            raise RuntimeError("boom")
        return nn.functional.cross_entropy(output, target)
    broken.calls = 0
    with pytest.raises(RuntimeError, match="boom"):
        lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(0), loss_fn=broken,
                             start_lr=1e-2, end_lr=10.0, num_steps=20, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


# ----------------------------------------------------------------------------- against torch-lr-finder

@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_torch_lr_finder(name, seed):
    pytest.importorskip("torch_lr_finder")
    model = _mlp(seed)
    ours = lr_finder.range_test(model, OPTIMIZERS[name](model.parameters()), _loader(seed), progress=False, **SETTINGS)
    model = _mlp(seed)
    theirs, their_lr = torch_lr_finder_adapter.range_test(model, OPTIMIZERS[name](model.parameters()),
                                                          _loader(seed), **SETTINGS)
    # the same schedule and, step for step, the same raw losses
    n = min(ours.num_steps, theirs.num_steps)
    assert np.allclose(ours.lrs[:n], theirs.lrs[:n], rtol=1e-12, atol=0)
    assert np.allclose(ours.losses[:n], theirs.losses[:n], rtol=0, atol=1e-9)
    # smoothed their way (average started at the first loss), the same curve, stop and suggestion
    same_way = ours.resmooth(debias=False)
    assert same_way.num_steps == theirs.num_steps
    assert np.allclose(same_way.smoothed, theirs.smoothed, rtol=0, atol=1e-9)
    assert lr_finder.suggest_steepest(same_way, upto_minimum=False) == pytest.approx(their_lr, rel=1e-9)
    # bias-corrected (ours), the stop and the steepest slope move by at most 3 steps of the sweep
    step = ours.lrs[1] / ours.lrs[0]
    assert abs(ours.num_steps - theirs.num_steps) <= 3
    assert abs(math.log(lr_finder.suggest_steepest(ours, upto_minimum=False) / their_lr) / math.log(step)) <= 3 + 1e-9


def test_agrees_with_torch_lr_finder_on_the_course_cnn_and_loader():
    pytest.importorskip("torch_lr_finder")
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(64) % 10
    settings = dict(start_lr=1e-5, end_lr=1.0, num_steps=25, beta=0.9, diverge_factor=5.0)
    results = []
    for run in (lr_finder.range_test, torch_lr_finder_adapter.range_test):
        torch.manual_seed(0)
        model = models.make_cnn(channels=(8, 16, 16), hidden=32)  # the course's CNN, narrower to stay fast
        loader = data.DeviceLoader(images, labels, batch_size=8, seed=0)
        kwargs = dict(progress=False) if run is lr_finder.range_test else dict(skip_start=2, skip_end=2)
        results.append(run(model, torch.optim.Adam(model.parameters()), loader, **settings, **kwargs))
    ours, (theirs, _) = results
    n = min(ours.num_steps, theirs.num_steps)
    assert n >= 20
    assert np.allclose(ours.losses[:n], theirs.losses[:n], rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- a bowl: the answer is known

def _bowl_sweep(bowl, w0, num_steps=200, dtype=torch.float64):
    model = bowl_model.BowlModel(bowl.A, w0).to(dtype)
    return lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), model.loader(),
                                loss_fn=bowl_model.bowl_loss, start_lr=1e-3, end_lr=10.0, num_steps=num_steps,
                                beta=0.0, diverge_factor=4.0, progress=False)


def test_full_batch_range_test_on_a_bowl_is_exact_gd_and_never_rises_below_2_over_lambda_max():
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    w0 = np.array([-1.8, 1.2])
    sweep = _bowl_sweep(bowl, w0)
    # the theory of lesson 02: each eigen-direction is multiplied by (1 - lr λ) per step
    lambdas, vectors = np.linalg.eigh(bowl.A)
    c = vectors.T @ w0
    factors = np.vstack([np.ones(2), np.cumprod(1 - np.outer(sweep.lrs[:-1], lambdas), axis=0)])
    theory = 0.5 * np.sum(lambdas * (c * factors) ** 2, axis=1)
    below = sweep.lrs < bowl.max_stable_lr
    assert np.allclose(sweep.losses[below], theory[below], rtol=1e-9)
    assert np.all(np.diff(sweep.losses[below]) < 0)          # every step below the wall lowers the loss
    first_rise = int(np.flatnonzero(np.diff(sweep.losses) > 0)[0]) + 1
    assert sweep.lrs[first_rise - 1] > bowl.max_stable_lr    # the first rise comes from a step above the wall
    assert sweep.stop_reason == "diverged" and sweep.stop_lr > bowl.max_stable_lr


def test_on_a_one_direction_bowl_the_loss_turns_up_right_after_the_first_lr_above_2_over_lambda():
    lam = 10.0
    bowl = surfaces.Quadratic(np.array([[lam]]))
    sweep = _bowl_sweep(bowl, [1.5])   # float64: passing lr = 1/λ takes the loss down to ~1e-45
    first_above = int(np.flatnonzero(sweep.lrs > 2 / lam)[0])
    # the loss recorded at step i comes after the steps 0..i-1: the step at first_above makes it grow
    assert np.all(np.diff(sweep.losses[:first_above + 1]) < 0)
    assert sweep.losses[first_above + 1] > sweep.losses[first_above]
    assert 2 / lam < sweep.stop_lr < 1.3 * 2 / lam


def test_with_two_directions_the_blow_up_comes_later_than_the_wall():
    # passing lr = 1/λ_max nearly zeroes the steep direction; above the wall it has to regrow from that
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    sweep = _bowl_sweep(bowl, [-1.8, 1.2])
    assert sweep.stop_lr > 2 * bowl.max_stable_lr


def test_bowl_model_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="w0"):
        bowl_model.BowlModel(np.eye(2), [1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------- suggestion rules

def _sweep_of(lrs, smoothed):
    lrs, smoothed = np.asarray(lrs, float), np.asarray(smoothed, float)
    return lr_finder.Sweep(lrs=lrs, losses=smoothed.copy(), smoothed=smoothed, beta=0.0, diverge_factor=4.0,
                           stop_reason="end", start_lr=lrs[0], end_lr=lrs[-1], num_steps_requested=len(lrs))


def test_steepest_finds_the_fastest_fall_per_log_lr():
    lrs = lr_finder.sweep_lrs(1e-6, 1.0, 121)
    centre = 3e-4
    smoothed = 2.0 - np.tanh(np.log(lrs / centre))     # falls fastest at the centre
    sweep = _sweep_of(lrs, smoothed)
    assert lr_finder.suggest_steepest(sweep) == pytest.approx(centre, rel=0.06)   # the sweep's step is 12 %
    # a slope per unit of lr instead (a usual mistake) would point elsewhere
    wrong = lrs[10:-5][np.argmin(np.gradient(smoothed[10:-5], lrs[10:-5]))]
    assert wrong < centre / 1.5


def test_minimum_rule_is_a_tenth_of_the_lowest_point():
    lrs = lr_finder.sweep_lrs(1e-5, 10.0, 100)
    smoothed = (np.log10(lrs) + 2.0) ** 2 + 1.0      # lowest at 1e-2
    sweep = _sweep_of(lrs, smoothed)
    assert lr_finder.suggest_minimum(sweep) == pytest.approx(1e-3, rel=0.08)
    assert lr_finder.suggest_minimum(sweep, divide_by=1) == pytest.approx(1e-2, rel=0.08)


def _brute_longest_descent(values):
    best = 1
    for r in range(2, len(values) + 1):
        for idx in itertools.combinations(range(len(values)), r):
            if all(values[a] > values[b] for a, b in zip(idx, idx[1:])):
                best = max(best, r)
    return best


def test_longest_descent_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(30):
        values = rng.integers(0, 6, size=int(rng.integers(1, 10))).astype(float)
        end, length = lr_finder.longest_descent(values)
        assert length == _brute_longest_descent(values)
        assert length == _brute_longest_descent(values[:end + 1])   # it ends where it says


def test_valley_is_half_way_down_the_longest_descent():
    lrs = lr_finder.sweep_lrs(1e-6, 1.0, 75)
    # 10 points of flat start (trimmed), a plateau, a clean 30-point descent, then a blow-up
    smoothed = np.concatenate([np.full(10, 2.3), np.full(10, 2.3), np.linspace(2.29, 1.0, 30), np.linspace(1.1, 9, 25)])
    sweep = _sweep_of(lrs, smoothed)
    # trimmed: descent of length 31 (the plateau's last point then the 30 falling ones) ends at index 39 of
    # the trimmed arrays; fastai's start estimate 39 - 31 = 8, plus floor(31/3) + floor(31/6) = 15
    assert lr_finder.suggest_valley(sweep) == pytest.approx(lrs[10 + 23])
    assert lr_finder.longest_descent(smoothed[10:-5]) == (39, 31)


def test_rules_read_only_up_to_the_lowest_smoothed_loss():
    # a cross-entropy sweep past its minimum: a spike, then the fall back to a dead network's ln 10
    lrs = lr_finder.sweep_lrs(1e-6, 10.0, 120)
    x = np.log(lrs / 1e-3)
    smoothed = np.where(lrs < 3e-2, 2.3 - 0.4 * (1 + np.tanh(x)), np.nan)
    bottom = int(np.flatnonzero(lrs < 3e-2)[-1])
    after = len(lrs) - bottom - 1
    smoothed[bottom + 1:] = math.log(10) + 3.0 * np.exp(-np.arange(after) / 4.0)   # the spike decays to ln 10
    assert smoothed[bottom + 1:].min() > smoothed[:bottom + 1].min()   # the minimum is before the spike
    assert smoothed.max() < 4 * smoothed.min()                               # the 4x stop never fires
    sweep = _sweep_of(lrs, smoothed)
    assert lr_finder.suggest_steepest(sweep) == pytest.approx(1e-3, rel=0.15)
    assert lr_finder.suggest_steepest(sweep, upto_minimum=False) > lrs[bottom]   # the spike's decay, not training
    lrs_read, _ = lr_finder.trimmed(sweep)
    assert lrs_read[-1] == lrs[int(np.argmin(smoothed[:len(lrs) - lr_finder.SKIP_END]))]
    assert lr_finder.suggest_valley(sweep) < lrs[bottom]
    assert lr_finder.suggest_minimum(sweep) == lr_finder.suggest_minimum(sweep, upto_minimum=False)


def test_rules_need_enough_points_and_skip_non_finite_ends():
    lrs = lr_finder.sweep_lrs(1e-4, 1.0, 20)
    with pytest.raises(ValueError, match="at least 3"):
        lr_finder.suggest_steepest(_sweep_of(lrs[:16], np.linspace(2, 1, 16)))
    smoothed = np.concatenate([np.linspace(2.0, 1.0, 18), [np.inf, np.nan]])
    assert lr_finder.suggest_minimum(_sweep_of(lrs, smoothed), skip_end=0) == pytest.approx(lrs[17] / 10)
    assert set(lr_finder.suggest(_sweep_of(lrs, smoothed), skip_end=0)) == set(lr_finder.RULES)


def test_torch_lr_finder_version_is_the_installed_distributions(monkeypatch):
    from importlib import metadata

    assert torch_lr_finder_adapter.installed_version() == metadata.version("torch-lr-finder")

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert torch_lr_finder_adapter.installed_version() is None
