"""The course's optimizers against their torch.optim twins: signatures, steps, state, schedulers, fit."""
import inspect

import pytest
import torch

from course_utils import optimizers, training

NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]

# (optimizer, hyperparameters): every optimizer at its defaults and away from them, every option it implements
CASES = [
    ("SGD", {}),
    ("SGD", dict(lr=0.02, momentum=0.7, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=1e-3)),
    ("Adagrad", {}),
    ("Adagrad", dict(lr=0.05, lr_decay=1e-3, weight_decay=1e-2, initial_accumulator_value=0.1, eps=1e-6)),
    ("RMSprop", {}),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, eps=1e-4, momentum=0.5, centered=True, weight_decay=1e-3)),
    ("Adam", {}),
    ("Adam", dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2, amsgrad=True)),
    ("Adam", dict(lr=3e-3, weight_decay=1e-2, decoupled_weight_decay=True)),
    ("AdamW", {}),
    ("AdamW", dict(lr=1e-2, amsgrad=True, weight_decay=0.1, betas=[0.85, 0.95])),
]


def _ids(case):
    name, settings = case
    return f"{name}-" + ("defaults" if not settings else "-".join(f"{k}={v}" for k, v in settings.items()))


@pytest.mark.parametrize("name", NAMES)
def test_same_name_arguments_and_defaults_as_torch(name):
    ours = inspect.signature(getattr(optimizers, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [(p.name, p.kind, p.default) for p in theirs.values()]
    assert issubclass(getattr(optimizers, name), torch.optim.Optimizer)


@pytest.mark.parametrize("problem", optimizers.PROBLEMS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_tracks_torch_step_for_step(case, problem):
    name, settings = case
    gap = optimizers.compare(optimizers.OPTIMIZERS[name], getattr(torch.optim, name), problem, 300,
                             lr_milestones=(100, 200), gamma=0.5, **settings)
    assert gap < 1e-9, f"{name} drifted from torch.optim.{name} by {gap:.2g} (relative)"


@pytest.mark.parametrize("name", NAMES)
def test_maximize_climbs_the_negated_loss_like_torch(name):
    """maximize=True on -f, like torch's (the test problems' own f grows without bound when maximized)."""
    initial, loss_at = optimizers.make_problem("mlp", seed=5, num_steps=200)
    paths = []
    for cls, maximize in ((getattr(optimizers, name), True), (getattr(torch.optim, name), True),
                          (getattr(optimizers, name), False)):
        params = [p.clone().requires_grad_(True) for p in initial]
        opt = cls(params, lr=0.01, weight_decay=0.01, maximize=maximize)
        path = []
        for step in range(200):
            opt.zero_grad()
            ((-1 if maximize else 1) * loss_at(params, step)).backward()
            opt.step()
            path.append(torch.cat([p.detach().flatten() for p in params]))
        paths.append(torch.stack(path))
    assert torch.allclose(paths[0], paths[1], rtol=1e-10, atol=1e-12)
    # torch negates the gradient before adding weight decay: maximizing -f is minimizing f, decay included
    assert torch.allclose(paths[0], paths[2], rtol=1e-10, atol=1e-12)


def test_the_comparison_can_fail():
    """The comparison itself notices a different optimizer, a different setting and a different schedule."""
    assert optimizers.compare(optimizers.SGD, torch.optim.Adam, "mlp", 50, lr=0.01) > 1e-3
    run = dict(lr=0.01)
    path = optimizers.trajectory(optimizers.Adam, "mlp", 50, **run)
    assert optimizers.relative_gaps(optimizers.trajectory(torch.optim.Adam, "mlp", 50, eps=1e-3, **run), path).max() > 1e-4
    assert optimizers.relative_gaps(optimizers.trajectory(torch.optim.Adam, "mlp", 50, lr_milestones=(25,), **run),
                                    path).max() > 1e-4


@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[6], CASES[8]], ids=_ids)
def test_state_buffers_have_torch_names_and_values(case):
    name, settings = case
    initial, loss_at = optimizers.make_problem("mlp", seed=3, num_steps=50)
    opts = []
    for cls in (getattr(optimizers, name), getattr(torch.optim, name)):
        params = [p.clone().requires_grad_(True) for p in initial]
        opt = cls(params, **settings)
        for step in range(50):
            opt.zero_grad()
            loss_at(params, step).backward()
            opt.step()
        opts.append(opt)
    ours, theirs = opts
    for p_ours, p_theirs in zip(ours.param_groups[0]["params"], theirs.param_groups[0]["params"]):
        s_ours, s_theirs = ours.state[p_ours], theirs.state[p_theirs]
        ours_keys = set(s_ours) - ({"step"} - set(s_theirs))   # torch's SGD does not count steps; ours does
        assert ours_keys == set(s_theirs), f"{name}: state keys {sorted(s_ours)} vs torch's {sorted(s_theirs)}"
        for key in ours_keys:
            assert torch.allclose(torch.as_tensor(s_ours[key], dtype=torch.float64),
                                  torch.as_tensor(s_theirs[key], dtype=torch.float64), rtol=1e-10, atol=1e-12), key


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_works_with_other_lr_schedulers(name):
    """Cosine annealing with warm restarts and one-cycle (which also cycles momentum/betas)."""
    initial, loss_at = optimizers.make_problem("mlp", seed=4, num_steps=120)
    settings = dict(lr=0.01, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    paths = []
    for cls in (getattr(optimizers, name), getattr(torch.optim, name)):
        params = [p.clone().requires_grad_(True) for p in initial]
        opt = cls(params, **settings)
        schedulers = [torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=120)]
        path = []
        for step in range(120):
            opt.zero_grad()
            loss_at(params, step).backward()
            opt.step()
            for scheduler in schedulers:
                scheduler.step()
            path.append(torch.cat([p.detach().flatten() for p in params]))
        paths.append(torch.stack(path))
    assert torch.allclose(paths[0], paths[1], rtol=1e-10, atol=1e-12)


def test_works_with_training_fit():
    torch.manual_seed(0)
    batches = [(torch.randn(16, 6), torch.randint(0, 3, (16,))) for _ in range(8)]
    histories, weights = [], []
    for cls in (optimizers.Adam, torch.optim.Adam):
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
        opt = cls(model.parameters(), lr=1e-2, weight_decay=1e-3)
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
        histories.append(training.fit(model, batches, batches[:2], opt, 3, scheduler, scheduler_interval="step",
                                      progress=False))
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    ours, theirs = histories
    assert ours.num_steps == theirs.num_steps == 24 and not ours.diverged
    assert ours.step_lr == theirs.step_lr and ours.step_lr[-1] < ours.step_lr[0]
    assert ours.step_loss == pytest.approx(theirs.step_loss, rel=1e-5)
    assert torch.allclose(weights[0], weights[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, match", [
    (lambda p: optimizers.SGD(p, lr=-0.1), "lr must be a finite number >= 0"),
    (lambda p: optimizers.SGD(p, lr=float("nan")), "lr must be a finite number"),
    (lambda p: optimizers.SGD(p, lr="fast"), "lr must be a number"),
    (lambda p: optimizers.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: optimizers.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda p: optimizers.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda p: optimizers.Adam(p, betas=(0.9, 1.0)), r"Adam: betas\[1\] must be a number in \[0, 1\), got 1.0"),
    (lambda p: optimizers.Adam(p, betas=0.9), "betas must be a pair"),
    (lambda p: optimizers.Adam(p, eps=-1e-8), "eps"),
    (lambda p: optimizers.RMSprop(p, alpha=-0.1), "alpha"),
    (lambda p: optimizers.Adagrad(p, lr_decay=-1), "lr_decay"),
    (lambda p: optimizers.Adam(p, fused=True), r"Adam does not implement fused=True.*torch\.optim\.Adam"),
    (lambda p: optimizers.AdamW(p, foreach=True), "AdamW does not implement foreach=True"),
    (lambda p: optimizers.SGD(p, differentiable=True), "SGD does not implement differentiable=True"),
    (lambda p: optimizers.RMSprop(p, capturable=True), "RMSprop does not implement capturable=True"),
    (lambda p: optimizers.Adagrad(p, fused=True), "Adagrad does not implement fused=True"),
])
def test_bad_arguments_get_a_clear_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([torch.zeros(3, requires_grad=True)])


def test_explicit_default_speed_options_are_accepted():
    opt = optimizers.Adam([torch.zeros(3, requires_grad=True)], foreach=False, fused=False, capturable=False,
                          differentiable=False)
    assert opt.defaults["lr"] == 1e-3


def test_param_groups_added_later_are_checked_too():
    opt = optimizers.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "momentum": -1.0})


def test_sparse_and_complex_parameters_are_refused():
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.zeros(3).to_sparse()
    with pytest.raises(ValueError, match="sparse or complex"):
        optimizers.Adam([p]).step()
    z = torch.zeros(2, dtype=torch.complex64, requires_grad=True)
    z.grad = torch.ones(2, dtype=torch.complex64)
    with pytest.raises(ValueError, match="sparse or complex"):
        optimizers.SGD([z], lr=0.1).step()


def test_a_subclass_without_update_says_so():
    class Nothing(optimizers.CourseOptimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    with pytest.raises(NotImplementedError, match="must define update"):
        Nothing([p]).step()


def test_step_returns_the_closure_loss_and_skips_parameters_without_grad():
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = optimizers.SGD([a, b], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (a ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [1.0, 1.0]
    assert b not in opt.state


def test_per_run_hyperparameters_broadcast_over_rows():
    """A (k, 1) tensor of learning rates runs k independent problems at once, one per row."""
    lrs = torch.tensor([[0.01], [0.1], [0.3]], dtype=torch.float64)
    target = torch.tensor([1.0, -2.0], dtype=torch.float64)
    rows = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    batched = optimizers.Adam([rows], lr=lrs, betas=(0.9, torch.tensor([[0.9], [0.99], [0.999]], dtype=torch.float64)))
    singles = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    alone = [optimizers.Adam([w], lr=float(lr), betas=(0.9, b2)) for w, lr, b2 in zip(singles, lrs, (0.9, 0.99, 0.999))]
    for _ in range(30):
        for opt, w in [(batched, rows)] + list(zip(alone, singles)):
            opt.zero_grad()
            ((w - target) ** 2).sum().backward()
            opt.step()
    assert torch.allclose(rows, torch.stack(singles), rtol=1e-12, atol=0)


def test_one_vocabulary_names_every_optimizer_by_its_torch_class_name():
    for name, ours in optimizers.OPTIMIZERS.items():
        theirs = getattr(torch.optim, name)
        assert optimizers.optimizer_class(name) is ours and ours.__name__ == theirs.__name__
        assert optimizers.optimizer_class(name, library="torch") is theirs
    assert optimizers.optimizer_class(torch.optim.SGD) is torch.optim.SGD          # a class passes through
    with pytest.raises(ValueError, match=r"unknown optimizer 'adam' \(did you mean 'Adam'\?\); name one of SGD, "
                                         r"Adagrad, RMSprop, Adam, AdamW"):
        optimizers.optimizer_class("adam")
    with pytest.raises(ValueError, match="unknown optimizer 'Adamax'; name one of"):
        optimizers.optimizer_class("Adamax")
    with pytest.raises(ValueError, match="unknown optimizer 3"):
        optimizers.optimizer_class(3)
    with pytest.raises(ValueError, match="library must be one of course, torch"):
        optimizers.optimizer_class("SGD", library="jax")


def test_per_run_hyperparameters_are_checked_value_by_value():
    w = torch.zeros(3, 2, requires_grad=True)
    optimizers.SGD([w], lr=torch.tensor([[0.1], [0.2], [0.3]]))
    with pytest.raises(ValueError, match="SGD: lr must be a finite number >= 0, got -0.2"):
        optimizers.SGD([w], lr=torch.tensor([[0.1], [-0.2], [0.3]]))
    with pytest.raises(ValueError, match="SGD: lr must be a number, got 'fast'"):
        optimizers.SGD([w], lr="fast")
