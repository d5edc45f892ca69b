"""The kernel trainer: closed-form full-batch trajectories against stepping (numpy and the
matrix-free path), the choice between them, and SGD."""

import jax
import numpy as np
import pytest

from ntkbench import kernel_train
from ntkbench._compat import x64


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


def test_matrix_free_in_float64_matches_stepping(problem):
    steps = [1, 2, 5, 17, 100, 999]
    want = _stepped(*problem, 0.3, 0.9, steps)
    with x64():
        got = kernel_train.gd_trajectory(*problem, lr=0.3, momentum=0.9, steps=steps, method="matfree")
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


@pytest.fixture(scope="module")
def larger():
    """n = 300 training and m = 50 evaluation points of a Gaussian kernel in float32, as the
    claims' Grams are: eigenvalues from 139 down to 4e-7, so every step schedule leaves
    slow modes moving."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(350, 5))
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 10).astype(np.float32)
    labels = np.sign(x[:, 0] * x[:, 1])
    return k[:300, :300], k[300:, :300], labels[:300], labels[300:]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_matrix_free_matches_the_closed_form(larger, momentum):
    """Stepping in float32 against the float64 closed form, to 3000 steps at the kernel's own
    rate: each step's K a rounds at ~1e-7 relative, which the slow, barely damped modes
    accumulate about linearly (3e-4 by 3000 steps at momentum 0.9, measured), so 1e-3 on
    predictions of order 1."""
    k_train, k_eval, y, _ = larger
    lr = len(y) / (2 * np.linalg.eigvalsh(k_train.astype(np.float64))[-1])
    steps = kernel_train.schedule(3000, 12)
    eigh = kernel_train.gd_trajectory(k_train, k_eval, y, lr=lr, momentum=momentum, steps=steps, method="eigh")
    matfree = kernel_train.gd_trajectory(k_train, k_eval, y, lr=lr, momentum=momentum, steps=steps,
                                         method="matfree")
    np.testing.assert_allclose(matfree, eigh, rtol=1e-3, atol=1e-3)


def test_matrix_free_early_stopping_matches_the_closed_form(larger):
    """Lanczos' lambda_max (within 1e-4) and float32 steps move predictions by ~1e-4, so at
    most a test point lying that close to the boundary may flip."""
    k_train, k_eval, y, y_eval = larger
    assert kernel_train.lambda_max(k_train) == pytest.approx(np.linalg.eigvalsh(k_train.astype(np.float64))[-1],
                                                             rel=1e-4)
    errors = [kernel_train.early_stopped_error(k_train, k_eval, y, y_eval, horizon=3000, method=method)
              for method in ("eigh", "matfree")]
    assert abs(errors[0] - errors[1]) <= 1 / len(y_eval)


def test_matrix_free_diverges_where_the_closed_form_does(problem):
    k_train, k_eval, y = problem
    lam_max = np.linalg.eigvalsh(k_train).max()
    for method in ("eigh", "matfree"):
        preds = kernel_train.gd_trajectory(k_train, k_eval, y, lr=3 * len(y) / lam_max, momentum=0.9,
                                           steps=[10, 10**4], method=method)
        assert not np.all(np.isfinite(preds[-1])), method


def test_fit_method_keeps_the_closed_form_at_quick_scale():
    """The quick claims' fits (n up to 4096 against m = 1000 or 2000 test points, early stopping
    to 100,000 steps or the full-batch ablation's 2000) stay on eigh, so their statistics do
    not move; the paper's n = 64k, or too little memory, steps."""
    for n in (64, 1024, 4096):
        for m in (1000, 2000):
            assert kernel_train.fit_method(n, m, 100_000) == "eigh"
            assert kernel_train.fit_method(n, m, 2000, points=200) == "eigh"
    assert kernel_train.fit_method(64_000, 10_000, 100_000) == "matfree"
    assert kernel_train.fit_method(4096, 1000, 100_000, memory=2**28) == "matfree"
    assert kernel_train.fit_method(4096, 1000, 10) == "matfree"
    with pytest.raises(ValueError, match="fit method"):
        kernel_train.gd_trajectory(np.eye(2), np.eye(2), np.ones(2), lr=0.1, momentum=0.0, steps=[1], method="cg")
