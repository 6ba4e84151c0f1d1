"""Checks of lesson 08: right answers pass (visible and hidden inputs), each usual mistake fails with its hint,
and answers fitted to the visible inputs fail the hidden ones."""
import pytest
import torch

from course_utils import checks, curvature, eigen


# ----------------------------------------------------------------------------- 08.1

def right_hvp(loss, params, vector):
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vector))
    return torch.autograd.grad(dot, params)


def library_hvp(loss, params, vector):  # the course's operator gives the same
    H = curvature.HessianOperator.from_closure(lambda: loss, params, cache=True)
    return curvature.unflatten(H(curvature.flatten(vector)), params)


def no_create_graph(loss, params, vector):
    grads = torch.autograd.grad(loss, params)
    dot = sum((g * v).sum() for g, v in zip(grads, vector))
    return torch.autograd.grad(dot, params)


def gradient_only(loss, params, vector):
    return torch.autograd.grad(loss, params)


def gradient_times_vector(loss, params, vector):
    return [g * v for g, v in zip(torch.autograd.grad(loss, params), vector)]


def flat_answer(loss, params, vector):
    return curvature.flatten(right_hvp(loss, params, vector))


@pytest.mark.parametrize("hidden", [False, True])
def test_right_hvps_pass(hidden, capsys):
    checks.hessian_vector_product(right_hvp, hidden=hidden)
    checks.hessian_vector_product(library_hvp, hidden=hidden)
    assert capsys.readouterr().out.splitlines() == ["[check 08.1] hessian_vector_product: PASSED"] * 2


@pytest.mark.parametrize("wrong, hint", [
    (no_create_graph, "create_graph=True"),
    (gradient_only, "Returning the gradient"),
    (gradient_times_vector, "Returning the gradient"),
    (flat_answer, "one tensor per parameter"),
    (lambda loss, params, vector: None, "returned None"),
])
def test_wrong_hvps_fail_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 08.1\] hessian_vector_product: FAILED") as info:
        checks.hessian_vector_product(wrong)
    assert hint in str(info.value)


def test_hvp_that_changes_the_parameters_fails():
    def meddling(loss, params, vector):
        out = right_hvp(loss, params, vector)
        with torch.no_grad():
            params[0].add_(1.0)
        return out

    with pytest.raises(AssertionError, match="changed the parameters"):
        checks.hessian_vector_product(meddling)


# ----------------------------------------------------------------------------- 08.2

def _power(hvp, v, tol=1e-6, max_iterations=1000, normalise=True):
    """Power iteration from ``v``; ``normalise=False`` is the usual mistake of never rescaling v."""
    value = None
    for _ in range(max_iterations):
        w = hvp(v)
        new = float(v @ w / (v @ v))
        if value is not None and abs(new - value) <= tol * abs(new):
            return new
        value, v = new, (w / w.norm() if normalise else w)
    return value


def _random_start(dim):
    v = torch.randn(dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return v / v.norm()


def right_power(hvp, dim):
    return _power(hvp, _random_start(dim))


def library_power(hvp, dim):
    return eigen.top_eigenvalue(hvp, dim, tol=1e-7, max_iterations=2000, dtype=torch.float64).value


def start_from_ones(hvp, dim):
    return _power(hvp, torch.ones(dim, dtype=torch.float64) / dim ** 0.5)


def never_normalised(hvp, dim):
    return _power(hvp, _random_start(dim), normalise=False)


def twenty_iterations(hvp, dim):
    v = _random_start(dim)
    for _ in range(20):
        w = hvp(v)
        v = w / w.norm()
    return float(v @ hvp(v))


@pytest.mark.parametrize("hidden", [False, True])
def test_right_power_iterations_pass(hidden, capsys):
    checks.power_iteration(right_power, hidden=hidden)
    checks.power_iteration(library_power, hidden=hidden)
    assert capsys.readouterr().out.splitlines() == ["[check 08.2] power_iteration: PASSED"] * 2


@pytest.mark.parametrize("wrong, hint", [
    (start_from_ones, "Start from a random vector"),
    (never_normalised, "normalise"),
    (twenty_iterations, "keep iterating"),
    (lambda hvp, dim: [1.0, 2.0], "one number"),
    (lambda hvp, dim: None, "returned None"),
])
def test_wrong_power_iterations_fail_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 08.2\] power_iteration: FAILED") as info:
        checks.power_iteration(wrong)
    assert hint in str(info.value)


def test_power_iteration_fitted_to_the_visible_matrices_fails_the_hidden_ones():
    def fitted(hvp, dim):  # looks the answer up by the matrix size
        return {3: 5.0, 20: 1e5, 10: 0.01, 25: 10.0, 6: 3.0}.get(dim, 1.0)

    checks.power_iteration(fitted)
    with pytest.raises(AssertionError):
        checks.power_iteration(fitted, hidden=True)


def test_the_trap_matrix_really_hides_its_top_direction_from_ones():
    for hidden in (False, True):
        what, A, lam = checks.lesson08._power_cases(hidden)[-1]
        top = torch.linalg.eigh(torch.tensor(A)).eigenvectors[:, -1]
        assert abs(float(top.sum())) < 1e-10 and "orthogonal to ones" in what


# ----------------------------------------------------------------------------- 08.3

@pytest.mark.parametrize("hidden", [False, True])
def test_right_stable_lr_passes(hidden, capsys):
    checks.largest_stable_lr(lambda s, m: (2 + 2 * m) / s, hidden=hidden)
    checks.largest_stable_lr(lambda s, m: curvature.stability_threshold("sgd", 1.0, momentum=m).value / s,
                             hidden=hidden)
    assert capsys.readouterr().out.splitlines() == ["[check 08.3] largest_stable_lr: PASSED"] * 2


@pytest.mark.parametrize("wrong", [
    lambda s, m: 2 / s,                 # forgets momentum
    lambda s, m: 1 / s,                 # the step that lands at the minimum, not the wall
    lambda s, m: 2 / ((1 - m) * s),     # effective-lr reasoning
    lambda s, m: (2 + 2 * m) * s,       # upside down
])
def test_wrong_stable_lrs_fail_with_a_hint(wrong):
    with pytest.raises(AssertionError, match=r"\[check 08.3\] largest_stable_lr: FAILED") as info:
        checks.largest_stable_lr(wrong)
    assert "(2 + 2β)/λ_max" in str(info.value)


def test_hard_coded_stable_lr_fails_the_hidden_variant():
    table = {(100.0, 0.0): 0.02, (20.0, 0.9): 0.19, (1.5, 0.0): 2 / 1.5, (400.0, 0.5): 3 / 400}
    fitted = lambda s, m: table.get((s, m), 0.01)
    checks.largest_stable_lr(fitted)
    with pytest.raises(AssertionError):
        checks.largest_stable_lr(fitted, hidden=True)


def test_not_implemented_passes_through_and_registry():
    def todo(*args):
        raise NotImplementedError

    for check in (checks.hessian_vector_product, checks.power_iteration, checks.largest_stable_lr):
        with pytest.raises(NotImplementedError):
            check(todo)
    assert checks.REGISTRY["08.1"].points == 2 and checks.REGISTRY["08.2"].name == "power_iteration"
    assert checks.REGISTRY["08.3"].lesson == "08"
