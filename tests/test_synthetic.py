import pytest
import torch

from course_utils import synthetic


def test_shapes_dtype_and_repeatability():
    a = synthetic.make_linear_regression(num_samples=200, num_features=4, noise_std=0.3, seed=5)
    b = synthetic.make_linear_regression(num_samples=200, num_features=4, noise_std=0.3, seed=5)
    c = synthetic.make_linear_regression(num_samples=200, num_features=4, noise_std=0.3, seed=6)
    assert a.X.shape == (200, 4) and a.y.shape == (200,) and a.true_w.shape == (4,) and a.true_b.shape == ()
    assert a.X.dtype == torch.float32
    for x, y in zip(a[:4], b[:4]):
        assert torch.equal(x, y)
    assert not torch.equal(a.X, c.X)


def test_targets_follow_the_model_with_the_given_noise():
    data = synthetic.make_linear_regression(num_samples=20_000, num_features=3, noise_std=0.5, seed=0,
                                            dtype=torch.float64)
    residual = data.y - data.X @ data.true_w - data.true_b
    assert residual.std().item() == pytest.approx(0.5, rel=0.03)
    assert abs(residual.mean().item()) < 0.02
    exact = synthetic.make_linear_regression(num_samples=50, num_features=3, noise_std=0.0, seed=0)
    assert torch.allclose(exact.y, exact.X @ exact.true_w + exact.true_b, atol=1e-5)


def test_least_squares_recovers_the_true_parameters():
    data = synthetic.make_linear_regression(num_samples=5000, num_features=6, noise_std=0.2, seed=1,
                                            dtype=torch.float64)
    Xb = torch.cat([data.X, torch.ones(len(data.X), 1, dtype=torch.float64)], dim=1)
    solution = torch.linalg.lstsq(Xb, data.y[:, None]).solution.squeeze(1)
    assert torch.allclose(solution[:-1], data.true_w, atol=0.02)
    assert abs(solution[-1].item() - data.true_b.item()) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_samples=0), "num_samples"),
    (dict(num_features=2.5), "num_features"),
    (dict(noise_std=-1.0), "noise_std"),
    (dict(seed=-3), "seed"),
])
def test_bad_arguments_are_plain_errors(kwargs, match):
    args = dict(num_samples=10, num_features=2, noise_std=0.1, seed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        synthetic.make_linear_regression(**args)
