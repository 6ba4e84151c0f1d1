"""Checks of lesson 08: right answers pass the visible variant and hidden ones judged apart, each usual mistake
fails with its message, answers fitted to the visible inputs fail the hidden ones, and no message shows the
expected value or expression."""
import re

import numpy as np
import pytest
import torch
from check_support import SECRETS, drawn_from_the_secret, judged_apart, shown, verdict_of

from course_utils import checks, curvature, eigen
from course_utils.checks import hidden_variant, lesson08

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


def meddling(loss, params, vector):
    out = right_hvp(loss, params, vector)
    with torch.no_grad():
        params[0].add_(1.0)
    return out


def test_right_answers_pass_in_the_notebook(capsys):
    checks.hessian_vector_product(right_hvp)
    checks.hessian_vector_product(library_hvp)
    checks.power_iteration(right_power)
    checks.power_iteration(library_power)
    checks.largest_stable_lr(lambda s, m: (2 + 2 * m) / s)
    assert capsys.readouterr().out.splitlines() == (["[check 08.1] hessian_vector_product: PASSED"] * 2 +
                                                    ["[check 08.2] power_iteration: PASSED"] * 2 +
                                                    ["[check 08.3] largest_stable_lr: PASSED"])


@pytest.mark.parametrize("secret", SECRETS)
def test_right_answers_pass_hidden_variants_judged_apart(secret):
    for check, answer in ((checks.hessian_vector_product, right_hvp), (checks.hessian_vector_product, library_hvp),
                          (checks.power_iteration, right_power), (checks.power_iteration, library_power),
                          (checks.largest_stable_lr, lambda s, m: (2 + 2 * m) / s),
                          (checks.largest_stable_lr,
                           lambda s, m: curvature.stability_threshold("sgd", 1.0, momentum=m).value / s)):
        assert judged_apart(check, answer, hidden_variant(secret)) == ("passed", ""), check.name


def test_hidden_inputs_depend_on_the_secret():
    for check in (checks.hessian_vector_product, checks.power_iteration, checks.largest_stable_lr):
        assert drawn_from_the_secret(check), check.name


def test_the_visible_network_is_the_one_the_lesson_always_used():
    case = checks.hessian_vector_product.cases(checks.VISIBLE)[2]
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    assert all(np.allclose(p.detach().numpy(), q) for p, q in zip(model.parameters(), case["params"]))
    x = torch.tensor(case["x"], dtype=torch.float64)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor(case["y"]))
    assert torch.isclose(loss, lesson08._loss(case, lesson08._parameters(case)))


HVP_MISTAKES = [
    (no_create_graph, "create_graph"),
    (gradient_only, "that is the gradient, a first derivative"),
    (gradient_times_vector, "entry by entry"),
    (flat_answer, "one tensor per parameter"),
    (meddling, "changed the parameters"),
    (lambda loss, params, vector: [2 * t for t in right_hvp(loss, params, vector)], "Curvature without the matrix"),
    (lambda loss, params, vector: [t.reshape(-1) for t in right_hvp(loss, params, vector)], "its parameter's shape"),
    (lambda loss, params, vector: None, "returned None"),
]


@pytest.mark.parametrize("wrong, message", HVP_MISTAKES)
def test_each_hvp_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 08.1\] hessian_vector_product: FAILED") as info:
        checks.hessian_vector_product(wrong)
    assert message in str(info.value)
    status, graded = judged_apart(checks.hessian_vector_product, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


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


POWER_MISTAKES = [
    (start_from_ones, "no part along the top direction"),
    (never_normalised, "unit length"),
    (twenty_iterations, "still on its way up"),
    (lambda hvp, dim: 2 * right_power(hvp, dim), "not the largest eigenvalue"),
    (lambda hvp, dim: right_power(lambda v: hvp(v[:-1]), dim), "hvp takes a vector of shape"),
    (lambda hvp, dim: [1.0, 2.0], "one number"),
    (lambda hvp, dim: None, "returned None"),
]


def test_power_iteration_fitted_to_the_visible_matrices_fails_the_hidden_ones():
    answers = {len(c["A"]): float(np.linalg.eigvalsh(c["A"])[-1]) for c in checks.power_iteration.cases(checks.VISIBLE)}

    def fitted(hvp, dim):  # looks the answer up by the matrix size
        return answers.get(dim, 1.0)

    assert judged_apart(checks.power_iteration, fitted, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.power_iteration, fitted, hidden_variant(secret))[0] == "failed"


def test_the_trap_matrix_really_hides_its_top_direction_from_ones():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0])):
        case = checks.power_iteration.cases(variant)[-1]
        top = torch.linalg.eigh(torch.tensor(case["A"], dtype=torch.float64)).eigenvectors[:, -1]
        assert abs(float(top.sum())) < 1e-10 and "orthogonal to ones" in case["what"]


# ----------------------------------------------------------------------------- 08.3

STABLE_LR_MISTAKES = [
    (lambda s, m: 2 / s, "leaves the momentum out"),
    (lambda s, m: 1 / s, "in one step"),
    (lambda s, m: 2 / ((1 - m) * s), "steady-slope reasoning"),
    (lambda s, m: (2 + 2 * m) * s, "upside down"),
    (lambda s, m: (2 + m) / s, "Re-read lesson 02's wall"),
    (lambda s, m: None, "returned None"),
]


def test_hard_coded_stable_lr_fails_the_hidden_variant():
    table = {(c["sharpness"], c["momentum"]): (2 + 2 * c["momentum"]) / c["sharpness"]
             for c in checks.largest_stable_lr.cases(checks.VISIBLE)}
    fitted = lambda s, m: table.get((s, m), 0.01)  # noqa: E731
    assert judged_apart(checks.largest_stable_lr, fitted, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.largest_stable_lr, fitted, hidden_variant(secret))[0] == "failed"


# ----------------------------------------------------------------------------- all three

def test_not_attempted_and_crash():
    def todo(*args):
        raise NotImplementedError

    for check in (checks.hessian_vector_product, checks.power_iteration, checks.largest_stable_lr):
        with pytest.raises(NotImplementedError):
            check(todo)
        assert judged_apart(check, todo, hidden_variant(SECRETS[0]))[0] == "not attempted"
    status, message = judged_apart(checks.hessian_vector_product, lambda loss, params, v: params[0] @ params[1],
                                   checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised")
    assert checks.REGISTRY["08.1"].points == 2 and checks.REGISTRY["08.2"].name == "power_iteration"
    assert checks.REGISTRY["08.3"].lesson == "08"


def test_failure_messages_never_show_the_expected_value_or_expression():
    expressions = ["create_graph=True)", "(g * v).sum()", "(2 + 2β)", "2 + 2", "λ_max is", "2/λ_max", "v @ w"]
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.power_iteration.cases(variant):
            top = float(np.linalg.eigvalsh(case["A"])[-1])
            for wrong in (0.5 * top, 2 * top, float("inf"), np.linalg.eigvalsh(case["A"])[-2]):
                status, message = verdict_of(checks.power_iteration, case, {"value": wrong, "products": 7})
                assert status == "failed" and not shown(message, [top], besides=[wrong, 7]), message
                assert not any(e in message for e in expressions), message
        for case in checks.largest_stable_lr.cases(variant):
            want = (2 + 2 * case["momentum"]) / case["sharpness"]
            for wrong, _ in STABLE_LR_MISTAKES[:5]:
                got = wrong(case["sharpness"], case["momentum"])
                status, message = verdict_of(checks.largest_stable_lr, case, got)
                if not np.isclose(got, want):
                    assert status == "failed" and not any(e in message for e in expressions), message
                    assert not shown(re.sub(r"lesson \d\d", "", message), [want, 2 + 2 * case["momentum"]],
                                     besides=[case["sharpness"], case["momentum"], got]), message
        for case in checks.hessian_vector_product.cases(variant)[:3]:
            hessian, gradient = lesson08._flat_hessian_and_gradient(case)
            vector = torch.cat([torch.tensor(v, dtype=torch.float64).reshape(-1) for v in case["vector"]])
            want = (hessian @ vector).numpy()
            for wrong in (no_create_graph, gradient_only, gradient_times_vector, flat_answer):
                (response,) = checks.hessian_vector_product.respond_all(wrong, [case])
                status, message = checks.hessian_vector_product.verdict([case], [response])
                if wrong is flat_answer and len(case["params"]) == 1:
                    continue   # with one parameter, one flat tensor is the right answer
                assert status == "failed" and not shown(message, want), message
                assert not any(e in message for e in expressions), message
    for check in (checks.hessian_vector_product, checks.power_iteration, checks.largest_stable_lr):
        assert 2 <= len(check.hints) <= 4 and not any(e in h for e in expressions for h in check.hints)


# ----------------------------------------------------------------------------- 08.4

EDGE_MISTAKES = [
    (lambda lr: 2 * lr, "upside down: a larger learning rate"),
    (lambda lr: lr / 2, "upside down and halved"),
    (lambda lr: 1 / lr, "solved in one step"),
    (lambda lr: 3.8 / lr, "heavy-ball momentum"),
    (lambda lr: 88.98, "Think about which way"),          # the sharpness at initialisation, as if it never moved
    (lambda lr: None, "returned None"),
    (lambda lr: [2 / lr, 1.0], "one number"),
]


def test_edge_sharpness_right_answer_passes_visible_and_hidden():
    checks.edge_sharpness(lambda lr: 2 / lr)
    checks.edge_sharpness(lambda lr: curvature.stability_threshold("sgd", lr).value)
    for secret in SECRETS:
        assert judged_apart(checks.edge_sharpness, lambda lr: 2 / lr, hidden_variant(secret)) == ("passed", "")
    assert drawn_from_the_secret(checks.edge_sharpness)
    assert checks.REGISTRY["08.4"].kind == "predict" and checks.REGISTRY["08.3"].kind == "predict"


def test_edge_sharpness_memorised_fails_hidden_and_messages_hide_the_value():
    table = {c["lr"]: 2 / c["lr"] for c in checks.edge_sharpness.cases(checks.VISIBLE)}
    fitted = lambda lr: table.get(lr, 100.0)  # noqa: E731
    assert judged_apart(checks.edge_sharpness, fitted, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.edge_sharpness, fitted, hidden_variant(secret))[0] == "failed"
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.edge_sharpness.cases(variant):
            want = 2 / case["lr"]
            for wrong, _ in EDGE_MISTAKES[:5]:
                status, message = verdict_of(checks.edge_sharpness, case, wrong(case["lr"]))
                assert status == "failed" and not shown(message, [want], besides=[case["lr"], wrong(case["lr"])]), message
                assert "2/lr" not in message and "2 / lr" not in message, message
    assert 2 <= len(checks.edge_sharpness.hints) <= 4


def test_edge_sharpness_not_attempted_and_crash():
    def todo(lr):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.edge_sharpness(todo)
    assert judged_apart(checks.edge_sharpness, todo, hidden_variant(SECRETS[0]))[0] == "not attempted"
    status, message = judged_apart(checks.edge_sharpness, lambda lr: 1 / 0, checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised")


# ----------------------------------------------------------------------------- 08.2 to 08.4: each mistake named

MISTAKES = ([(checks.power_iteration, w, m) for w, m in POWER_MISTAKES] +
            [(checks.largest_stable_lr, w, m) for w, m in STABLE_LR_MISTAKES] +
            [(checks.edge_sharpness, w, m) for w, m in EDGE_MISTAKES])


@pytest.mark.parametrize("check, wrong, message", MISTAKES, ids=lambda x: getattr(x, "name", None))
def test_each_mistake_fails_with_its_message(check, wrong, message):
    with pytest.raises(AssertionError, match=rf"\[check {check.id}\] {check.name}: FAILED") as info:
        check(wrong)
    assert message in str(info.value)
    for secret in SECRETS:
        status, graded = judged_apart(check, wrong, hidden_variant(secret))
        assert status == "failed" and message in graded
