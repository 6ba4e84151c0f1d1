import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import model_stack, noise_scale, regression, synthetic


def test_from_per_example_is_the_mean_and_the_population_covariance():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(50, 4)) + [1.0, 0.0, -2.0, 0.5]
    s = noise_scale.from_per_example(g)
    assert s.grad_sq == pytest.approx(float(g.mean(0) @ g.mean(0)))
    assert s.trace == pytest.approx(float(np.trace(np.cov(g.T, bias=True))))
    assert s.b_simple == pytest.approx(s.trace / s.grad_sq)


def test_estimate_recovers_signal_and_noise_from_exact_expectations():
    truth = noise_scale.NoiseScale(grad_sq=0.3, trace=12.0)
    got = noise_scale.estimate(truth.expected_sq_norm(4), truth.expected_sq_norm(300), 4, 300)
    assert (got.grad_sq, got.trace, got.b_simple) == pytest.approx((0.3, 12.0, 40.0))
    with pytest.raises(ValueError, match="batch_small < batch_big"):
        noise_scale.estimate(1.0, 2.0, 8, 8)


def test_minibatch_norms_average_to_the_expected_value():
    rng = np.random.default_rng(1)
    g = rng.normal(size=(400, 3)) * [1.0, 2.0, 0.5] + 0.3
    exact = noise_scale.from_per_example(g)
    for batch_size in (2, 50):
        norms = noise_scale.minibatch_sq_norms(lambda idx: g[idx].mean(0), len(g), batch_size, 4000, seed=batch_size)
        se = norms.std() / math.sqrt(len(norms))
        assert abs(norms.mean() - exact.expected_sq_norm(batch_size)) < 4 * se


def test_least_squares_closed_form_equals_per_example_gradients_and_bnoise():
    data = synthetic.make_linear_regression(300, 3, noise_std=0.5, seed=2)
    problem = regression.least_squares(data.X, data.y)
    theta = problem.solution + np.array([0.3, -0.2, 0.1, 0.05])
    scale, b_noise = noise_scale.least_squares_noise(problem, theta)
    per = torch.zeros(300, 4, dtype=torch.float64, requires_grad=False)
    inputs = torch.as_tensor(problem.inputs)
    for j in range(300):
        t = torch.tensor(theta, requires_grad=True)
        ((inputs[j] @ t - problem.targets[j]) ** 2).backward()
        per[j] = t.grad
    direct = noise_scale.from_per_example(per.numpy())
    assert (scale.grad_sq, scale.trace) == pytest.approx((direct.grad_sq, direct.trace), rel=1e-10)
    G = per.numpy().mean(0)
    sigma = np.cov(per.numpy().T, bias=True)
    assert b_noise == pytest.approx(np.trace(problem.hessian @ sigma) / (G @ problem.hessian @ G), rel=1e-10)
    batch = noise_scale.least_squares_batch_grad(problem, theta)([0, 5, 5, 7])
    assert batch == pytest.approx(per.numpy()[[0, 5, 5, 7]].mean(0))
    with pytest.raises(ValueError, match="theta must have shape"):
        noise_scale.least_squares_noise(problem, np.zeros(3))


def test_network_per_example_gradients_match_a_loop_and_the_batch_gradient():
    X, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
    net = model_stack.MLPStack(5, 8, 3, seeds=[0], num_lrs=1)
    loss = lambda out, target: F.cross_entropy(out.reshape(-1, out.shape[-1]), target)   # noqa: E731
    per = noise_scale.per_example_gradients(net, loss, X, y, chunk=7)
    assert per.shape == (20, sum(p.numel() for p in net.parameters()))
    for j in (0, 13):
        grads = torch.autograd.grad(loss(net(X[j:j + 1]), y[j:j + 1]), list(net.parameters()))
        torch.testing.assert_close(per[j], torch.cat([g.reshape(-1) for g in grads]), rtol=1e-5, atol=1e-6)
    batch = noise_scale.module_batch_grad(net, loss, X, y)(np.arange(20))
    torch.testing.assert_close(torch.cat([g.reshape(-1) for g in batch]), per.mean(0), rtol=1e-5, atol=1e-6)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="shape"):
        noise_scale.from_per_example(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        noise_scale.from_per_example([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="num_draws"):
        noise_scale.minibatch_sq_norms(lambda idx: idx, 10, 2, 0)
