"""Damped Gauss-Newton against known answers on linear models, where the network is its own
linearisation."""

import numpy as np
import pytest

from ntkbench import gauss_newton


def linear(params, x):
    return x @ params


def gram(params, x):
    return x @ x.T


@pytest.fixture(scope="module")
def problem():
    """3 points, 8 parameters: the least-squares problem has an exact, interpolating solution."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 8)).astype(np.float32)
    return x, rng.normal(size=3), rng.normal(size=8).astype(np.float32)


def test_one_step_at_tiny_damping_lands_on_the_least_squares_solution(problem):
    x, y, theta0 = problem
    r = x.astype(np.float64) @ theta0 - y
    a = gauss_newton.coefficients(gram(theta0, x).astype(np.float64), r, damping=1e-9)
    theta1 = gauss_newton.pull_back(linear, theta0, x, a.astype(np.float32))
    want = theta0 + np.linalg.lstsq(x.astype(np.float64), -r, rcond=None)[0]
    np.testing.assert_allclose(theta1, want, atol=1e-5)
    stopping = gauss_newton.Stopping(target=1e-8, max_steps=10)
    assert gauss_newton.steps_to_target(linear, gram, theta0, x, y, damping=1e-9, stopping=stopping) == 1


def test_linear_steps_halve_the_residual_at_damping_one():
    """K = I, damping 1: every step halves the residual; MSE 4^-t reaches 1e-3 at t = 5."""
    r = np.ones(4)
    assert gauss_newton.linear_steps_to_target(np.eye(4), r, damping=1.0,
                                               stopping=gauss_newton.Stopping(1e-3, 10)) == 5
    assert gauss_newton.linear_steps_to_target(np.eye(4), r, damping=1.0,
                                               stopping=gauss_newton.Stopping(1e-3, 3)) == 4


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_a_linear_model_takes_the_steps_of_its_linearisation(problem, scale):
    """The lazily scaled model alpha (f - f0) starts at residual -y, f itself at f0 - y."""
    x, y, theta0 = problem
    stopping = gauss_newton.Stopping(target=1e-4, max_steps=50)
    r0 = -y if scale != 1.0 else x.astype(np.float64) @ theta0 - y
    want = gauss_newton.linear_steps_to_target(gram(theta0, x), r0, damping=0.1, stopping=stopping)
    got = gauss_newton.steps_to_target(linear, gram, theta0, x, y, damping=0.1, stopping=stopping, scale=scale)
    assert got == want and 1 < want < stopping.max_steps
