"""The kernel trainer: closed-form full-batch trajectories against stepping, and SGD."""

import jax
import numpy as np
import pytest

from ntkbench import kernel_train


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 4)
    y = np.sign(x[:30, 0])
    return k[:30, :30], k[30:, :30], y


def _stepped(k_train, k_eval, y, lr, momentum, steps):
    a, v, out = np.zeros(len(y)), np.zeros(len(y)), []
    for t in range(1, steps[-1] + 1):
        v = 2 * (k_train @ a - y) / len(y) + momentum * v
        a = a - lr * v
        if t in steps:
            out.append(k_eval @ a)
    return np.array(out)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_closed_form_matches_stepping(problem, momentum):
    steps = [1, 2, 5, 17, 100, 999]
    want = _stepped(*problem, 0.3, momentum, steps)
    got = kernel_train.gd_trajectory(*problem, lr=0.3, momentum=momentum, steps=steps)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_long_gd_reaches_the_interpolant(problem):
    k_train, k_eval, y = problem
    got = kernel_train.gd_trajectory(k_train, k_train, y, lr=1.0, momentum=0.9, steps=[10**7])
    np.testing.assert_allclose(got[0], y, atol=1e-3)


def test_too_large_lr_diverges_and_counts_as_error(problem):
    k_train, k_eval, y = problem
    lam_max = np.linalg.eigvalsh(k_train).max()
    preds = kernel_train.gd_trajectory(k_train, k_eval, y, lr=3 * len(y) / lam_max, momentum=0.0,
                                       steps=[10, 10**4])
    assert not np.all(np.isfinite(preds[-1]))
    assert kernel_train.zero_one_error(preds, np.ones(10))[-1] == 1.0


def test_full_batch_sgd_is_gd(problem):
    k_train, k_eval, y = problem
    steps = kernel_train.schedule(200, 8)
    sgd = kernel_train.sgd_trajectory(k_train, k_eval, y, key=jax.random.PRNGKey(0), lr=0.3,
                                      momentum=0.9, batch_size=64, steps=steps)
    gd = kernel_train.gd_trajectory(k_train, k_eval, y, lr=0.3, momentum=0.9, steps=steps)
    np.testing.assert_allclose(sgd, gd, rtol=1e-3, atol=1e-4)


def test_minibatch_sgd_fits(problem):
    k_train, _, y = problem
    preds = kernel_train.sgd_trajectory(k_train, k_train, y, key=jax.random.PRNGKey(0), lr=0.5,
                                        momentum=0.9, batch_size=8, steps=[1, 400])
    assert kernel_train.zero_one_error(preds, y)[-1] == 0.0


def test_schedule():
    s = kernel_train.schedule(1000, 10)
    assert s[0] == 1 and s[-1] == 1000 and np.all(np.diff(s) > 0)


def test_early_stopped_error_ignores_the_kernels_scale_and_reaches_ridgeless(problem):
    k_train, k_eval, y = problem
    y_eval = np.sign(k_eval @ np.linalg.solve(k_train, y))
    y_eval[:3] *= -1
    err = kernel_train.early_stopped_error(k_train, k_eval, y, y_eval)
    assert err == kernel_train.early_stopped_error(10 * k_train, 10 * k_eval, y, y_eval)
    assert err <= 0.3  # the ridgeless predictor, reached by the horizon, makes 3 of 10 errors
