"""course_utils.eigen: the top eigenvalue of a symmetric matvec where the answer is known (power iteration
and Lanczos), determinism, warm starts, and what a bad argument is told."""
import numpy as np
import pytest
import torch

from course_utils import eigen


def random_symmetric(seed, eigenvalues):
    """A symmetric float64 matrix with the given eigenvalues and random axes."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    return torch.tensor(q @ np.diag(eigenvalues) @ q.T)


@pytest.mark.parametrize("eigenvalues", [[10.0, 1.0], [0.5, 3.0, 7.0, 2.0], list(np.geomspace(0.01, 500, 20))])
def test_top_eigenvalue_of_symmetric_matrices(eigenvalues):
    A = random_symmetric(len(eigenvalues), eigenvalues)
    e = eigen.top_eigenvalue(lambda v: A @ v, dim=A.shape[0], tol=1e-10, max_iterations=2000, dtype=A.dtype)
    assert e.converged and e.rel_change <= 1e-10
    assert e.value == pytest.approx(max(eigenvalues), rel=1e-6)
    # the vector is the top eigenvector: A v = λ v
    assert torch.allclose(A @ e.vector, e.value * e.vector, atol=1e-3 * max(eigenvalues))
    assert len(e.history) == e.num_iterations and e.history[-1] == e.value


def test_negative_dominant_eigenvalue_still_gives_the_largest():
    A = random_symmetric(3, [2.0, -9.0, 0.5, -1.0])
    e = eigen.top_eigenvalue(lambda v: A @ v, dim=4, tol=1e-10, max_iterations=5000, dtype=A.dtype)
    assert e.converged
    assert e.value == pytest.approx(2.0, rel=1e-6)


def test_non_convergence_is_reported():
    A = random_symmetric(4, [1.0, 0.99, 0.5])  # eigengap 1 %: three iterations are far from enough
    e = eigen.top_eigenvalue(lambda v: A @ v, dim=3, tol=1e-9, max_iterations=3, dtype=A.dtype)
    assert not e.converged and e.num_iterations == 3 and e.rel_change > 1e-9
    assert "NOT converged" in str(e) and "max_iterations=3" in str(e)


def test_residual_bounds_the_distance_to_an_eigenvalue():
    eigenvalues = [5.0, 4.5, 1.0, 0.2]
    A = random_symmetric(5, eigenvalues)
    e = eigen.top_eigenvalue(lambda v: A @ v, dim=4, tol=1e-3, max_iterations=100, dtype=A.dtype)
    distance = min(abs(e.value - lam) for lam in eigenvalues)
    assert distance <= e.residual * abs(e.value) + 1e-12


def test_deterministic_with_a_seed_and_warm_start_saves_work():
    A = random_symmetric(6, list(np.linspace(1.0, 8.0, 30)))
    run = lambda seed, v0=None: eigen.top_eigenvalue(lambda v: A @ v, dim=30, tol=1e-6, max_iterations=500,
                                                         seed=seed, v0=v0, dtype=A.dtype)
    a, b, c = run(0), run(0), run(1)
    assert a.value == b.value and torch.equal(a.vector, b.vector) and a.num_iterations == b.num_iterations
    assert c.value == pytest.approx(a.value, rel=1e-4)  # another start, same answer within the tolerance
    warm = run(2, v0=a.vector)
    assert warm.num_iterations < a.num_iterations


def test_global_rng_untouched_by_the_random_start():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    eigen.random_unit_vector(10, seed=5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=None), "give dim"),
    (dict(dim=3, tol=0), "tol must be a positive"),
    (dict(dim=3, max_iterations=1), "max_iterations must be an integer >= 2"),
    (dict(v0=torch.zeros(3)), "non-zero"),
])
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        eigen.top_eigenvalue(lambda v: v, **kwargs)


def test_non_finite_products_are_an_error():
    with pytest.raises(ValueError, match="NaN or infinity"):
        eigen.top_eigenvalue(lambda v: v * float("nan"), dim=3)


# ----------------------------------------------------------------------------- Lanczos

@pytest.mark.parametrize("eigenvalues", [[10.0, 1.0], [2.0, -9.0, 0.5, -1.0], list(np.linspace(1.0, 5.0, 40))])
def test_lanczos_finds_the_largest_eigenvalue(eigenvalues):
    A = random_symmetric(7, eigenvalues)
    e = eigen.top_eigenvalue(lambda v: A @ v, dim=A.shape[0], tol=1e-12, max_iterations=200, method="lanczos",
                                 dtype=A.dtype)
    assert e.converged and e.value == pytest.approx(max(eigenvalues), rel=1e-8)
    assert torch.allclose(A @ e.vector, e.value * e.vector, atol=1e-6 * max(map(abs, eigenvalues)))


def test_lanczos_needs_far_fewer_products_when_the_top_eigenvalues_crowd():
    eigenvalues = list(np.linspace(9.0, 10.0, 10)) + list(np.linspace(0.0, 1.0, 190))  # ten close outliers
    A = random_symmetric(8, eigenvalues)
    run = lambda method: eigen.top_eigenvalue(lambda v: A @ v, dim=200, tol=1e-6, max_iterations=2000,
                                                  method=method, dtype=A.dtype)
    power, lanczos = run("power"), run("lanczos")
    assert lanczos.converged and lanczos.value == pytest.approx(10.0, rel=1e-5)
    assert lanczos.num_iterations * 3 < power.num_iterations
    assert abs(power.value - 10.0) > abs(lanczos.value - 10.0)


def test_unknown_method_is_an_error():
    with pytest.raises(ValueError, match="method must be"):
        eigen.top_eigenvalue(lambda v: v, dim=3, method="arnoldi")

