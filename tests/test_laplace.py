"""GP and linearised-Laplace predictives and evidences against their closed forms."""

import numpy as np
import pytest
from scipy import stats as sps

from ntkbench import laplace


def test_gp_predictive_on_two_points_is_the_closed_form():
    k, k_star, k_star_star, y = np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([1.0, 0.5]), 2.0, np.array([1.0, -1.0])
    s, noise = 1.5, 0.1
    (a, b), (_, d) = s * k + noise * np.eye(2)
    inverse = np.array([[d, -b], [-b, a]]) / (a * d - b * b)
    got = laplace.gp_predictive(k, k_star[None], np.array([k_star_star]), y, laplace.Hyperparameters(s, noise))
    np.testing.assert_allclose(got.mean, [s * k_star @ inverse @ y], rtol=1e-12)
    np.testing.assert_allclose(got.var, [s * k_star_star - s**2 * k_star @ inverse @ k_star + noise], rtol=1e-12)


@pytest.fixture(scope="module")
def linear_model():
    """f(theta, x) = J theta with J (5 x 12), prior mean theta_0, targets y."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 12)), rng.normal(size=(3, 12)), rng.normal(size=12), rng.normal(size=5)


@pytest.mark.parametrize("s, noise", [(0.5, 0.1), (3.0, 1e-3)])
def test_gp_evidence_is_the_gaussian_log_density(linear_model, s, noise):
    j, _, _, y = linear_model
    lam, u = np.linalg.eigh(j @ j.T)
    want = sps.multivariate_normal(np.zeros(5), s * j @ j.T + noise * np.eye(5)).logpdf(y) + 2.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(laplace.gp_evidence(lam, (u.T @ y) ** 2)(s, noise), want, rtol=1e-10)


@pytest.mark.parametrize("s, noise", [(0.5, 0.1), (3.0, 1e-3)])
def test_laplace_of_a_linear_model_at_its_map_is_exact(linear_model, s, noise):
    """For a linear model the Laplace evidence at the MAP is the exact evidence, and the GP
    predictive the parameter-space posterior's: mean J* theta_MAP, variance
    J* (J^T J / noise + I / s)^-1 J*^T + noise."""
    j, j_star, theta0, y = linear_model
    precision = j.T @ j / noise + np.eye(12) / s
    theta_map = theta0 + np.linalg.solve(precision, j.T @ (y - j @ theta0) / noise)
    residual = y - j @ theta_map
    lam, u = np.linalg.eigh(j @ j.T)
    np.testing.assert_allclose(
        laplace.laplace_evidence(lam, residual @ residual, np.sum((theta_map - theta0) ** 2))(s, noise),
        laplace.gp_evidence(lam, (u.T @ (y - j @ theta0)) ** 2)(s, noise), rtol=1e-10)
    got = laplace.gp_predictive(j @ j.T, j_star @ j.T, np.sum(j_star**2, 1), y - j @ theta0,
                                laplace.Hyperparameters(s, noise))
    np.testing.assert_allclose(j_star @ theta0 + got.mean, j_star @ theta_map, rtol=1e-8)
    np.testing.assert_allclose(got.var, np.diag(j_star @ np.linalg.solve(precision, j_star.T)) + noise, rtol=1e-8)


def test_maximise_finds_the_peak_on_the_grid():
    hp = laplace.maximise(lambda s, noise: -np.log(s / 10) ** 2 - np.log(noise / 1e-2) ** 2)
    assert hp == laplace.Hyperparameters(10.0, 1e-2)
