"""The course's own optimizers: SGD (heavy-ball and Nesterov momentum), Adagrad, RMSprop, Adam, AdamW.

Each class is a ``torch.optim.Optimizer`` named after its ``torch.optim`` twin, with the same
constructor arguments and defaults, and computes the same steps (the tests compare them step
for step). They exist to be read: the loop over parameters lives once, in
:class:`CourseOptimizer`, and each optimizer writes only its ``update`` for one parameter,
keeping its buffers in ``self.state[p]`` under torch's names (``momentum_buffer``, ``sum``,
``square_avg``, ``exp_avg``, ``exp_avg_sq``, ...). Schedulers, ``training.fit`` and anything
else that takes a ``torch.optim.Optimizer`` take these too.

Options of torch's classes that only change *how* the update is computed on the device
(``foreach``, ``fused``, ``capturable``, ``differentiable``) are accepted at the values that
mean "plain loop" and refused otherwise, with a message; nothing is silently ignored.

The course names an optimizer by its torch.optim class name (``"SGD"``, ``"Adam"``, ...):
:func:`optimizer_class` is the one lookup from a name to the course's class or torch's.

Hyperparameters are usually numbers. They may also be tensors that broadcast against a
parameter: with a parameter of shape (k, n) whose rows are k independent problems, an ``lr``
of shape (k, 1) runs k learning rates at once (how :mod:`course_utils.sweeps` runs a whole
sweep in one loop). Every update below is written so that works.

Example:
    >>> import torch
    >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w ** 2).sum().backward(); opt.step()
    >>> w.detach().tolist()   # Adam's first step is lr per coordinate, whatever the gradient's size
    [0.8999999761581421, -1.899999976158142]
"""
from __future__ import annotations

import math

import torch

from .arguments import check_range

__all__ = ["CourseOptimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "OPTIMIZERS", "optimizer_class",
           "compare", "trajectory", "relative_gaps", "make_problem"]

# hyperparameters that must be finite and >= 0 (as torch.optim requires); betas must lie in [0, 1)
_NON_NEGATIVE = ("lr", "momentum", "dampening", "weight_decay", "lr_decay", "initial_accumulator_value", "eps",
                 "alpha")


def _check_range(owner: str, name: str, value, high: float | None = None) -> None:
    """Raise a ValueError unless every value of ``value`` (a number, or a tensor of per-run values) is finite,
    >= 0 and < ``high``."""
    label = f"{owner}: {name}"
    if torch.is_tensor(value):
        values = value.detach().to("cpu", torch.float64).flatten().tolist()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{label} must be a number, got {value!r}.")
    else:
        values = [value]
    for v in values:
        check_range(v, label, 0, high, include_high=False)


def check_hyperparameters(owner: str, group: dict) -> None:
    """Raise a ValueError naming the first hyperparameter of ``group`` that is out of its range."""
    for name in _NON_NEGATIVE:
        if name in group:
            _check_range(owner, name, group[name])
    if "betas" in group:
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}.")
        for i, beta in enumerate(betas):
            _check_range(owner, f"betas[{i}]", beta, high=1.0)


def refuse_unsupported(owner: str, **options) -> None:
    """Refuse torch.optim options this course does not implement: ``name=(value, allowed values)``."""
    for name, (value, allowed) in options.items():
        if value not in allowed:
            raise ValueError(
                f"{owner} does not implement {name}={value!r} (an option of torch.optim.{owner} that runs the "
                f"same update another way: faster on a device, or differentiably); leave it at {allowed[0]!r}, or "
                f"use torch.optim.{owner}.")


def _on(value) -> bool:
    """Whether a hyperparameter is switched on: a nonzero number, or a tensor of per-run values."""
    return torch.is_tensor(value) or value != 0


class CourseOptimizer(torch.optim.Optimizer):
    """The loop every course optimizer shares; a subclass writes only :meth:`update`.

    ``step()`` visits every parameter that has a gradient, counts the step in
    ``self.state[p]["step"]`` (1 on the first step), negates the gradient when the group has
    ``maximize=True``, and calls ``update(p, grad, state, group)``.

    Example (plain gradient descent in three lines):
        >>> class GD(CourseOptimizer):
        ...     def __init__(self, params, lr=0.1):
        ...         super().__init__(params, dict(lr=lr))
        ...     def update(self, p, grad, state, group):
        ...         p.sub_(group["lr"] * grad)
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = GD([w], lr=0.25)
        >>> (w ** 2).sum().backward(); opt.step(); w.item()   # 1 - 0.25 * 2
        0.5
    """

    def __init__(self, params, defaults: dict):
        check_hyperparameters(type(self).__name__, defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        check_hyperparameters(type(self).__name__, self.param_groups[-1])

    def update(self, p: torch.Tensor, grad: torch.Tensor, state: dict, group: dict) -> None:
        """Change ``p`` in place by one step. ``grad`` has ``p``'s shape (do not change it in place);
        ``state`` is ``self.state[p]`` (``state["step"]`` is 1 on the first step); ``group`` holds
        the hyperparameters (``group["lr"]``, ...)."""
        raise NotImplementedError(f"{type(self).__name__} must define update(p, grad, state, group).")

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient; returns ``closure()``'s loss if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse or p.is_complex():
                    raise ValueError(f"{type(self).__name__} takes dense real parameters and gradients; "
                                     "use a torch.optim optimizer for sparse or complex ones.")
                grad = -p.grad if group.get("maximize", False) else p.grad
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                self.update(p, grad, state, group)
        return loss


class SGD(CourseOptimizer):
    """Stochastic gradient descent with heavy-ball or Nesterov momentum, as ``torch.optim.SGD``.

    With ``g`` the gradient (plus ``weight_decay * p``), ``β = momentum`` and buffer ``b``::

        b ← β b + (1 − dampening) g        (b = g on the first step)
        p ← p − lr b                       (Nesterov: p ← p − lr (g + β b))

    The buffer sums gradients, and the learning rate multiplies it when it is used: on a
    constant slope the step grows to ``lr g / (1 − β)``.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        refuse_unsupported("SGD", foreach=(foreach, (None, False)), differentiable=(differentiable, (False,)),
                           fused=(fused, (None, False)))
        if nesterov and (not _on(momentum) or _on(dampening)):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0.")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def update(self, p, grad, state, group):
        if _on(group["weight_decay"]):
            grad = grad + group["weight_decay"] * p
        momentum = group["momentum"]
        if _on(momentum):
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.clone()
            else:
                state["momentum_buffer"].mul_(momentum).add_((1 - group["dampening"]) * grad)
            buf = state["momentum_buffer"]
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.sub_(group["lr"] * grad)


class Adagrad(CourseOptimizer):
    """Adagrad, as ``torch.optim.Adagrad``: each coordinate's step is divided by the root of the
    sum of all its squared gradients so far::

        s ← s + g²                         (s starts at initial_accumulator_value)
        p ← p − lr_t g / (√s + eps)        lr_t = lr / (1 + (t − 1) lr_decay)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        refuse_unsupported("Adagrad", foreach=(foreach, (None, False)), differentiable=(differentiable, (False,)),
                           fused=(fused, (None, False)))
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def update(self, p, grad, state, group):
        if _on(group["weight_decay"]):
            grad = grad + group["weight_decay"] * p
        if "sum" not in state:
            state["sum"] = torch.zeros_like(p) + group["initial_accumulator_value"]
        state["sum"].add_(grad * grad)
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        p.sub_(lr * grad / (state["sum"].sqrt() + group["eps"]))


class RMSprop(CourseOptimizer):
    """RMSprop, as ``torch.optim.RMSprop``: each coordinate's step is divided by the root of a
    running average of its squared gradients::

        v ← α v + (1 − α) g²               (centered: minus the square of the running mean of g)
        p ← p − lr g / (√v + eps)          (momentum β: b ← β b + g / (√v + eps), p ← p − lr b)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        refuse_unsupported("RMSprop", foreach=(foreach, (None, False)), capturable=(capturable, (False,)),
                           differentiable=(differentiable, (False,)))
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def update(self, p, grad, state, group):
        alpha = group["alpha"]
        if _on(group["weight_decay"]):
            grad = grad + group["weight_decay"] * p
        if "square_avg" not in state:
            state["square_avg"] = torch.zeros_like(p)
        state["square_avg"].mul_(alpha).add_((1 - alpha) * grad * grad)
        mean_square = state["square_avg"]
        if group["centered"]:
            if "grad_avg" not in state:
                state["grad_avg"] = torch.zeros_like(p)
            state["grad_avg"].mul_(alpha).add_((1 - alpha) * grad)
            mean_square = mean_square - state["grad_avg"] ** 2
        scaled = grad / (mean_square.sqrt() + group["eps"])
        if _on(group["momentum"]):
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p)
            scaled = state["momentum_buffer"].mul_(group["momentum"]).add_(scaled)
        p.sub_(group["lr"] * scaled)


class Adam(CourseOptimizer):
    """Adam, as ``torch.optim.Adam``: momentum on the gradient, divided per coordinate by the root
    of a running average of its squares, both bias-corrected::

        m ← β1 m + (1 − β1) g              v ← β2 v + (1 − β2) g²
        m̂ = m / (1 − β1^t)                 v̂ = v / (1 − β2^t)
        p ← p − lr m̂ / (√v̂ + eps)

    The bias corrections undo the zeros m and v start from (without them the first steps are
    far too small). ``weight_decay`` adds ``weight_decay * p`` to the gradient, or with
    ``decoupled_weight_decay=True`` (AdamW) shrinks ``p`` by ``lr * weight_decay * p`` directly;
    ``amsgrad`` divides by the largest v̂ so far.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        owner = type(self).__name__
        refuse_unsupported(owner, foreach=(foreach, (None, False)), capturable=(capturable, (False,)),
                           differentiable=(differentiable, (False,)), fused=(fused, (None, False)))
        betas = tuple(betas) if isinstance(betas, list) else betas
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay))

    def update(self, p, grad, state, group):
        lr, (beta1, beta2), t = group["lr"], group["betas"], state["step"]
        if _on(group["weight_decay"]):
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * group["weight_decay"])
            else:
                grad = grad + group["weight_decay"] * p
        if "exp_avg" not in state:
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_((1 - beta1) * grad)
        v.mul_(beta2).add_((1 - beta2) * grad * grad)
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = torch.zeros_like(p)
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        p.sub_(lr * m_hat / (v_hat.sqrt() + group["eps"]))


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay (default 0.01)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)


# ----------------------------------------------------------------------------- the course's names for optimizers

# The one vocabulary of the course: an optimizer is named by its torch.optim class name, spelled as torch spells it.
OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW)}
LIBRARIES = ("course", "torch")


def optimizer_class(optimizer, *, library: str = "course") -> type:
    """The ``torch.optim.Optimizer`` class that ``optimizer`` names.

    ``optimizer`` is a name of :data:`OPTIMIZERS` (torch.optim's class names: ``"SGD"``,
    ``"Adagrad"``, ``"RMSprop"``, ``"Adam"``, ``"AdamW"``), or a ``torch.optim.Optimizer``
    subclass, returned as it is. A name gives the course's own class (``library="course"``, which
    also takes per-run tensor hyperparameters) or torch's (``library="torch"``).

    Example:
        >>> optimizer_class("Adam"), optimizer_class("Adam", library="torch")
        (<class 'course_utils.optimizers.Adam'>, <class 'torch.optim.adam.Adam'>)
        >>> optimizer_class("adam")
        Traceback (most recent call last):
            ...
        ValueError: unknown optimizer 'adam' (did you mean 'Adam'?); name one of SGD, Adagrad, RMSprop, Adam, AdamW (torch.optim's class names), or pass an optimizer class.
    """
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {', '.join(LIBRARIES)}, got {library!r}.")
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer] if library == "course" else getattr(torch.optim, optimizer)
    close = [name for name in OPTIMIZERS if isinstance(optimizer, str) and name.lower() == optimizer.lower()]
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown optimizer {optimizer!r}{guess}; name one of {', '.join(OPTIMIZERS)} "
                     "(torch.optim's class names), or pass an optimizer class.")


# ----------------------------------------------------------------------------- side by side with torch.optim

PROBLEMS = ("quadratic", "mlp")


def make_problem(problem: str, seed: int = 0, num_steps: int = 300):
    """A small float64 test problem: ``(initial_params, loss_at)``.

    ``initial_params`` is a list of tensors (copy them before optimizing); ``loss_at(params, step)``
    returns the loss of step ``step``. ``"quadratic"``: ½ wᵀAw − bᵀw in 6 dimensions with
    curvatures from 0.1 to 10 along random axes. ``"mlp"``: a 4-8-1 tanh network fitted to noisy
    targets on minibatches of 16 of 128 points, the same batch sequence for every optimizer.
    """
    gen = torch.Generator().manual_seed(int(seed))
    f64 = dict(dtype=torch.float64)
    if problem == "quadratic":
        q, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen, **f64))
        A = q @ torch.diag(torch.logspace(-1, 1, 6, **f64)) @ q.T
        b = torch.randn(6, generator=gen, **f64)
        return [torch.randn(6, generator=gen, **f64)], lambda p, step: 0.5 * p[0] @ A @ p[0] - b @ p[0]
    if problem == "mlp":
        X = torch.randn(128, 4, generator=gen, **f64)
        y = torch.sin(X @ torch.randn(4, generator=gen, **f64)) + 0.1 * torch.randn(128, generator=gen, **f64)
        params = [0.5 * torch.randn(8, 4, generator=gen, **f64), torch.zeros(8, **f64),
                  0.5 * torch.randn(1, 8, generator=gen, **f64), torch.zeros(1, **f64)]
        batches = torch.randint(0, 128, (int(num_steps), 16), generator=gen)

        def loss_at(p, step):
            idx = batches[step % len(batches)]
            hidden = torch.tanh(X[idx] @ p[0].T + p[1])
            return (((hidden @ p[2].T).squeeze(-1) + p[3] - y[idx]) ** 2).mean()
        return params, loss_at
    raise ValueError(f"problem must be one of {PROBLEMS}, got {problem!r}.")


def trajectory(optimizer, problem: str = "mlp", num_steps: int = 300, *, seed: int = 0, lr_milestones=(),
               gamma: float = 0.5, **hyperparameters) -> torch.Tensor:
    """Run ``optimizer`` (a class, built with ``**hyperparameters``) on :func:`make_problem`'s problem.

    A ``torch.optim.lr_scheduler.MultiStepLR(milestones=lr_milestones, gamma=gamma)`` steps after
    every update (no change when ``lr_milestones`` is empty). Returns the concatenated parameters
    before and after each step, shape (num_steps + 1, number of parameters).

    Example:
        >>> path = trajectory(SGD, "quadratic", 5, lr=0.1, momentum=0.9)
        >>> tuple(path.shape)
        (6, 6)
    """
    initial, loss_at = make_problem(problem, seed, num_steps)
    params = [p.clone().requires_grad_(True) for p in initial]
    opt = optimizer(params, **hyperparameters)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(lr_milestones), gamma=gamma)
    path = [torch.cat([p.detach().flatten() for p in params])]
    for step in range(int(num_steps)):
        opt.zero_grad()
        loss_at(params, step).backward()
        opt.step()
        scheduler.step()
        path.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(path)


def relative_gaps(path: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(num_steps,) after each step, |path − reference| / |reference − start|: the gap between two
    trajectories relative to how far the reference has moved (``inf`` where ``path`` is not finite)."""
    moved = (reference[1:] - reference[0]).norm(dim=1).clamp_min(1e-300)
    gaps = (path[1:] - reference[1:]).norm(dim=1) / moved
    return torch.where(torch.isfinite(gaps), gaps, torch.full_like(gaps, math.inf))


def compare(ours, reference, problem: str = "mlp", num_steps: int = 300, *, seed: int = 0, lr_milestones=(),
            gamma: float = 0.5, **hyperparameters) -> float:
    """The largest relative gap (see :func:`relative_gaps`) between two optimizers over ``num_steps``.

    Example:
        >>> compare(Adam, torch.optim.Adam, "mlp", 100, lr=0.01) < 1e-12
        True
    """
    run = dict(seed=seed, lr_milestones=lr_milestones, gamma=gamma, **hyperparameters)
    return float(relative_gaps(trajectory(ours, problem, num_steps, **run),
                               trajectory(reference, problem, num_steps, **run)).max())
