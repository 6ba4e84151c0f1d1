"""course_utils.schedules: sampling schedulers, warmup schedules two ways, recipes."""
import copy
import math
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as S

from course_utils import schedules, training


# ----------------------------------------------------------------------------- sampling

def test_lr_trace_follows_the_documented_formulas():
    T = 20
    assert schedules.lr_trace(lambda o: S.StepLR(o, step_size=5, gamma=0.1), T, lr=0.5) == pytest.approx(
        [0.5 * 0.1 ** (t // 5) for t in range(T)])
    assert schedules.lr_trace(lambda o: S.ExponentialLR(o, gamma=0.9), T, lr=2.0) == pytest.approx(
        [2.0 * 0.9 ** t for t in range(T)])
    assert schedules.lr_trace(lambda o: S.CosineAnnealingLR(o, T_max=T, eta_min=0.01), T, lr=1.0) == pytest.approx(
        [0.01 + 0.99 * (1 + math.cos(math.pi * t / T)) / 2 for t in range(T)])
    assert schedules.lr_trace(lambda o: S.MultiStepLR(o, milestones=[3, 7], gamma=0.5), 10, lr=1.0).tolist() == \
        [1.0] * 3 + [0.5] * 4 + [0.25] * 3


def test_lr_trace_steps_every_k_steps_and_handles_groups():
    per_epoch = schedules.lr_trace(lambda o: S.StepLR(o, step_size=1, gamma=0.5), 9, lr=1.0, every=3)
    assert per_epoch.tolist() == [1.0] * 3 + [0.5] * 3 + [0.25] * 3
    groups = schedules.lr_trace(lambda o: S.ExponentialLR(o, gamma=0.5), 3, lr=[1.0, 0.1])
    assert groups.shape == (3, 2) and groups[:, 1] == pytest.approx([0.1, 0.05, 0.025])


def test_lr_trace_feeds_reduce_on_plateau_its_losses():
    losses = [1.0, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5]
    trace = schedules.lr_trace(lambda o: S.ReduceLROnPlateau(o, factor=0.1, patience=1), 7, lr=1.0, metrics=losses)
    # improvement at 0, 1, 4; bad at 2, 3 (cut after 3), bad at 5, 6 (cut after 6)
    assert trace == pytest.approx([1.0] * 4 + [0.1] * 3)


def test_lr_trace_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schedules.lr_trace(lambda o: schedules.warmup_cosine(o, 3, 10), 10, lr=0.1)
        schedules.lr_trace(lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, cycle_momentum=False), 10, lr=0.1)


@pytest.mark.parametrize("call, match", [
    (lambda: schedules.lr_trace(lambda o: S.StepLR(o, 2), 0), "num_steps"),
    (lambda: schedules.lr_trace(lambda o: S.StepLR(o, 2), 5, lr=-1.0), "lr must be"),
    (lambda: schedules.lr_trace(lambda o: S.StepLR(o, 2), 5, every=0), "every"),
    (lambda: schedules.lr_trace(lambda o: S.ReduceLROnPlateau(o), 5), "metrics"),
    (lambda: schedules.lr_trace(lambda o: S.ReduceLROnPlateau(o), 5, metrics=[1.0, 2.0]), "one loss per scheduler step"),
    (lambda: schedules.lr_trace(lambda o: S.StepLR(o, 2), 5, metrics=[1.0] * 5), "only read by ReduceLROnPlateau"),
    (lambda: schedules.lr_trace(lambda o: S.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1), 2), 5),
     "optimizer it is given"),
])
def test_lr_trace_rejects_bad_input_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _model_optimizer_scheduler(make):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = make(optimizer)
    return model, optimizer, scheduler


@pytest.mark.parametrize("make", [
    lambda o: schedules.warmup_cosine(o, 5, 30),
    lambda o: S.OneCycleLR(o, max_lr=0.01, total_steps=30),        # cycles Adam's beta1 too
    lambda o: S.CyclicLR(o, base_lr=1e-3, max_lr=1e-2, step_size_up=4),
    lambda o: S.StepLR(o, step_size=4, gamma=0.5),
])
def test_sample_scheduler_leaves_the_callers_objects_untouched_and_predicts_them(make):
    model, optimizer, scheduler = _model_optimizer_scheduler(make)
    x = torch.randn(8, 4)
    for _ in range(3):  # part-way through a run
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
        scheduler.step()
    weights = copy.deepcopy(model.state_dict())
    groups = copy.deepcopy([{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups])
    sched_state = copy.deepcopy(scheduler.state_dict())
    opt_state = copy.deepcopy(optimizer.state_dict())

    predicted = schedules.sample_scheduler(scheduler, 20)

    assert [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups] == groups
    assert repr(scheduler.state_dict()) == repr(sched_state)
    assert repr(optimizer.state_dict()) == repr(opt_state)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    actual = []
    for _ in range(20):  # the real scheduler then gives exactly the predicted values
        actual.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert predicted == pytest.approx(actual, rel=1e-12)


def test_sample_scheduler_rejects_non_schedulers():
    with pytest.raises(ValueError, match="scheduler"):
        schedules.sample_scheduler(object(), 3)


# ----------------------------------------------------------------------------- warmup + decay, two ways

SETTINGS = [(0.1, 0, 10, 0.01, 0.0), (0.1, 3, 20, 0.1, 0.005), (1.0, 50, 1000, 0.01, 0.0), (3e-3, 1, 2, 0.5, 1e-4),
            (2.0, 10, 11, 1.0, 0.2), (0.05, 99, 400, 0.25, 0.05)]


@pytest.mark.parametrize("composition, formula", [(schedules.warmup_cosine, schedules.warmup_cosine_lr),
                                                  (schedules.warmup_linear, schedules.warmup_linear_lr)])
@pytest.mark.parametrize("peak, warmup, total, start, final", SETTINGS)
def test_warmup_formula_equals_the_pytorch_composition(composition, formula, peak, warmup, total, start, final):
    trace = schedules.lr_trace(lambda o: composition(o, warmup, total, start_factor=start, final_lr=final),
                               total, lr=peak)
    values = formula(np.arange(total), peak, warmup, total, start_factor=start, final_lr=final)
    assert np.allclose(trace, values, rtol=1e-9, atol=1e-15)
    assert [formula(t, peak, warmup, total, start_factor=start, final_lr=final)
            for t in (0, total - 1)] == pytest.approx(values[[0, -1]])


def test_warmup_formulas_have_the_documented_shape():
    lr = schedules.warmup_cosine_lr(np.arange(101), 1.0, 10, 100, start_factor=0.01, final_lr=0.1)
    assert lr[0] == pytest.approx(0.01) and lr[10] == pytest.approx(1.0) and lr[100] == pytest.approx(0.1)
    assert np.all(np.diff(lr[:11]) > 0) and np.all(np.diff(lr[10:]) < 0)
    assert lr[55] == pytest.approx(0.55)  # halfway down the cosine: the mean of peak and final
    assert schedules.warmup_cosine_lr(500, 1.0, 10, 100) == pytest.approx(0.0)  # stays at the end


@pytest.mark.parametrize("kwargs, match", [
    (dict(peak_lr=-1.0), "peak_lr"), (dict(warmup_steps=-1), "warmup_steps"), (dict(total_steps=5), "total_steps"),
    (dict(start_factor=0.0), "start_factor"), (dict(final_lr=2.0), "final_lr"), (dict(step=-1), "step"),
])
def test_warmup_formulas_reject_bad_input(kwargs, match):
    args = dict(step=0, peak_lr=1.0, warmup_steps=5, total_steps=20) | kwargs
    with pytest.raises(ValueError, match=match):
        schedules.warmup_cosine_lr(**args)


def test_fit_steps_a_per_step_schedule_as_the_formula_says():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    batches = [(torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))) for _ in range(5)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = training.fit(model, batches, None, optimizer, 3, schedules.warmup_cosine(optimizer, 4, 15),
                           scheduler_interval="step", progress=False)
    assert history.step_lr == pytest.approx(schedules.warmup_cosine_lr(np.arange(15), 0.1, 4, 15).tolist())


# ----------------------------------------------------------------------------- recipes

@pytest.mark.parametrize("name", schedules.SCHEDULES)
def test_every_recipe_peaks_at_the_lr_and_is_proportional_to_it(name):
    T = 80
    make = lambda o: schedules.make_schedule(name, o, T, warmup_steps=8, final_factor=0.01)  # noqa: E731
    one = schedules.lr_trace(make, T, lr=1.0)
    assert one.max() == pytest.approx(1.0, rel=1e-3)
    assert schedules.lr_trace(make, T, lr=0.02) == pytest.approx(0.02 * one, rel=1e-9)
    if name != "constant":
        assert one.min() < 0.1 and one[-1] < one.max()
    if name in ("step", "multistep"):  # the last drop comes three quarters of the way
        assert one[-1] == pytest.approx(0.01, rel=1e-9) and one[3 * T // 4 - 1] > 0.01
    if name == "onecycle":  # OneCycleLR ends its last phase on the run's last step
        assert one[-1] == pytest.approx(0.01, rel=1e-9)
    if name in ("exponential", "cosine", "linear", "warmup_cosine", "warmup_linear"):
        # a continuous decay reaches final_factor x peak at step T, just after the last step of the run
        assert schedules.lr_trace(make, T + 1, lr=1.0)[-1] == pytest.approx(0.01, rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="nope"), "unknown schedule"), (dict(final_factor=0.0), "final_factor"),
    (dict(warmup_steps=100), "warmup_steps"), (dict(num_steps=0), "num_steps"),
])
def test_make_schedule_rejects_bad_input(kwargs, match):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    args = dict(name="cosine", optimizer=optimizer, num_steps=50) | kwargs
    with pytest.raises(ValueError, match=match):
        schedules.make_schedule(args.pop("name"), args.pop("optimizer"), **args)
