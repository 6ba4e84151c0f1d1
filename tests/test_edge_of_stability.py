"""course_utils.edge_of_stability: sharpness recorded during training without disturbing it (in a hand-written
loop and inside training.fit), and full-batch gradient descent on the square loss."""
import math

import pytest
import torch
from torch import nn

from course_utils import curvature, edge_of_stability, training


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
        monitor = edge_of_stability.SharpnessMonitor(model, nn.functional.cross_entropy, (x[:20], y[:20]),
                                                     **monitor_kwargs)
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
            monitor = edge_of_stability.SharpnessMonitor(model, nn.functional.cross_entropy, batches[0], every=4)
            monitor.attach(opt)
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
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(12, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (12,), generator=g)
    monitor = edge_of_stability.SharpnessMonitor(model, nn.functional.cross_entropy, (x, y), every=1, tol=1e-8,
                                                 max_iterations=1000)
    first = monitor.record(0)
    second = monitor.record(1)  # same weights, started from the first eigenvector
    assert second.value == pytest.approx(first.value, rel=1e-6) and second.num_iterations < first.num_iterations
    with pytest.raises(ValueError, match="every must be"):
        edge_of_stability.SharpnessMonitor(model, nn.functional.cross_entropy, (x, y), every=0)
    with pytest.raises(ValueError, match="attach the monitor"):
        edge_of_stability.SharpnessMonitor(model, nn.functional.cross_entropy, (x, y), preconditioned=True).record(0)


# ----------------------------------------------------------------------------- full-batch GD

def test_full_batch_gd_records_loss_and_sharpness_and_matches_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(30, 6, generator=g), torch.randint(0, 3, (30,), generator=g)

    def net():
        torch.manual_seed(3)
        return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))

    run = edge_of_stability.full_batch_gd(net(), edge_of_stability.square_loss, x, y, lr=0.2, num_steps=25,
                                          every=10, method="lanczos", progress=False)
    plain, losses = net(), []
    opt = torch.optim.SGD(plain.parameters(), lr=0.2)
    for _ in range(25):
        loss = edge_of_stability.square_loss(plain(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert run.loss == losses and not run.diverged
    assert run.trace.step == [0, 10, 20] and all(run.trace.converged)
    first = curvature.sharpness(net(), edge_of_stability.square_loss, (x, y), tol=1e-8, max_iterations=500)
    assert run.trace.value[0] == pytest.approx(first.value, rel=1e-2)


def test_full_batch_gd_stops_on_divergence_and_validates():
    torch.manual_seed(0)
    x, y = torch.randn(20, 4), torch.randint(0, 2, (20,))
    run = edge_of_stability.full_batch_gd(nn.Linear(4, 2), edge_of_stability.square_loss, x * 100, y, lr=10.0,
                                          num_steps=200, every=1000, progress=False)
    assert run.diverged and not math.isfinite(run.loss[-1]) and len(run.loss) < 200
    with pytest.raises(ValueError, match="lr must be"):
        edge_of_stability.full_batch_gd(nn.Linear(4, 2), edge_of_stability.square_loss, x, y, lr=0.0, num_steps=5)
    with pytest.raises(ValueError, match="num_steps"):
        edge_of_stability.full_batch_gd(nn.Linear(4, 2), edge_of_stability.square_loss, x, y, lr=0.1, num_steps=0)


def test_square_loss():
    out = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert edge_of_stability.square_loss(out, torch.tensor([0, 1])).item() == pytest.approx((0 + 0.25) / 2)
    with pytest.raises(ValueError, match="must be"):
        edge_of_stability.square_loss(out, torch.tensor([0]))



# ----------------------------------------------------------------------------- reading a run against its edge

def _run(lr, steps, values, loss):
    trace = edge_of_stability.SharpnessTrace(list(steps), list(values), [3] * len(values), [True] * len(values))
    return edge_of_stability.FullBatchRun(lr=lr, loss=list(loss), trace=trace)


def test_summarize_reads_the_edge_the_rises_and_the_second_half():
    run = _run(0.02, [0, 10, 20, 30], [90.0, 99.0, 104.0, 101.0], [1.0 - 0.02 * k for k in range(15)] + [0.6, 0.65] * 12 + [0.5])
    s = edge_of_stability.summarize(run)
    assert s.edge == pytest.approx(100.0) and s.start == 90.0 and s.peak == 104.0
    assert s.reached == 20 and s.below_until == 10 and s.settled == 0        # 90 is already within 20 % of 100
    assert s.late_mean == pytest.approx(102.5) and s.late_ratio == pytest.approx((1.01, 1.04))
    assert s.first_rise == 15 and s.rises == 12 and s.first_step_change == pytest.approx(-0.02)
    assert s.loss_ratio == pytest.approx(0.5) and s.products == 12 and s.converged
    never = edge_of_stability.summarize(_run(0.01, [0, 10], [90.0, 120.0], [1.0, 0.9, 0.8]))
    assert never.reached is None and never.below_until == 3 and never.first_rise is None and never.settled == 0
    with pytest.raises(ValueError, match="at least one sharpness measurement"):
        edge_of_stability.summarize(_run(0.1, [], [], [1.0, 0.5]))


def test_regimes_hold_on_a_real_edge_and_fail_when_it_flips():
    below = edge_of_stability.summarize(_run(0.01, [0, 10, 20, 30], [90, 100, 110, 120], [1 - 0.01 * k for k in range(40)]))
    near = edge_of_stability.summarize(_run(0.02, [0, 10, 20, 30], [90, 99, 101, 100],
                                            [1 - 0.02 * k for k in range(12)] + [0.4, 0.45] * 14))
    above = edge_of_stability.summarize(_run(0.05, [0, 10, 20, 30], [90, 45, 42, 44], [1.0, 1.1] + [0.4, 0.3] * 19))
    assert all(edge_of_stability.regimes(below, near, above, predicted_lr=0.022).values())
    # the prediction on the wrong side, and a run that stays far above its edge, each break their sentence
    flipped = edge_of_stability.regimes(below, near, above, predicted_lr=0.06)
    assert [k for k, v in flipped.items() if not v] == [next(iter(flipped))]
    stuck = edge_of_stability.summarize(_run(0.05, [0, 10, 20, 30], [90, 80, 80, 80], [1.0, 1.1] + [0.4, 0.3] * 19))
    failed = [k for k, v in edge_of_stability.regimes(below, near, stuck, predicted_lr=0.022).items() if not v]
    assert len(failed) == 1 and "mean sharpness" in failed[0]


def test_tanh_mlp_is_seeded_and_shaped():
    a, b = edge_of_stability.tanh_mlp(3), edge_of_stability.tanh_mlp(3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, edge_of_stability.tanh_mlp(4)[0].weight)
    assert a(torch.zeros(2, 3072)).shape == (2, 10) and isinstance(a[1], nn.Tanh)
