"""Kernel-based Gaussian predictives: the GP of a kernel and a network's linearised Laplace.

Both are y ~ N(m, s K + noise I) on the training points, for a kernel K (an NTK Gram), a
prior scale s and a noise variance, and differ in their mean and in the evidence that
picks (s, noise) on a grid. The GP has m = 0 and its exact evidence. The linearised
Laplace of a trained network f(theta*) with prior theta ~ N(theta_0, s I) is the GP of the
network's linearisation at theta* (K its empirical NTK there): its mean is the network,
and its evidence the Laplace approximation at theta*, with the Gauss-Newton Hessian
J^T J / noise + I / s.

References:
  Rasmussen, Williams, "Gaussian processes for machine learning", MIT Press 2006, Ch. 2, 5.
  Immer, Korzepa, Bauer, "Improving predictions of Bayesian neural nets via local
  linearization", AISTATS 2021 (linearised Laplace).
  Immer et al., "Scalable marginal likelihood estimation for model selection in deep
  learning", ICML 2021 (the Laplace evidence for the prior scale and noise).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

PRIOR_SCALES, NOISES = np.logspace(-3, 3, 25), np.logspace(-6, 0, 25)

Evidence = Callable[[float, float], float]


class Hyperparameters(NamedTuple):
    prior_scale: float
    noise: float


class Predictive(NamedTuple):
    """N(mean, var) per test point; var includes the noise."""

    mean: np.ndarray
    var: np.ndarray


def gp_evidence(eigenvalues, projections) -> Evidence:
    """(s, noise) -> log N(y; 0, s K + noise I) + n/2 log(2 pi), from K's eigenvalues and
    the squared projections (U^T y)^2 of the targets on its eigenvectors."""
    def evidence(s, noise):
        c = np.maximum(s * eigenvalues, 0) + noise
        return -0.5 * np.sum(projections / c) - 0.5 * np.sum(np.log(c))
    return evidence


def laplace_evidence(eigenvalues, residual_sq: float, shift_sq: float) -> Evidence:
    """(s, noise) -> the Laplace evidence at the trained parameters + n/2 log(2 pi).

    With prior N(theta_0, s I) and the Gauss-Newton Hessian (its determinant through the
    n x n Gram's eigenvalues lambda_i):
    -n/2 log noise - |r|^2 / (2 noise) - |theta* - theta_0|^2 / (2 s) - n/2 log s
    - 1/2 sum_i log(1 / s + lambda_i / noise).

    Args:
      eigenvalues: of the empirical NTK's Gram at theta* on the training points.
      residual_sq: |y - f(theta*)|^2.
      shift_sq: |theta* - theta_0|^2.
    """
    n = len(eigenvalues)

    def evidence(s, noise):
        return (-0.5 * n * np.log(noise) - residual_sq / (2 * noise) - shift_sq / (2 * s)
                - 0.5 * n * np.log(s) - 0.5 * np.sum(np.log(1 / s + np.maximum(eigenvalues, 0) / noise)))
    return evidence


def maximise(evidence: Evidence, prior_scales=PRIOR_SCALES, noises=NOISES) -> Hyperparameters:
    """The grid point that maximises `evidence(s, noise)` (the first one on ties)."""
    return Hyperparameters(*max(((s, noise) for s in prior_scales for noise in noises),
                                key=lambda p: evidence(*p)))


def gp_predictive(k_train, k_test_train, k_test_diag, targets, hp: Hyperparameters) -> Predictive:
    """The posterior predictive at the test points of y ~ N(0, s K + noise I) given `targets`
    at the training points."""
    s, noise = hp
    c = s * k_train + noise * np.eye(len(targets))
    solve = np.linalg.solve(c, np.concatenate([targets[:, None], s * k_test_train.T], 1))
    var = s * k_test_diag - s * np.sum(k_test_train * solve[:, 1:].T, 1) + noise
    return Predictive(s * k_test_train @ solve[:, 0], np.maximum(var, 1e-12))


def gp(kernel, y) -> Predictive:
    """The evidence-maximised GP of `kernel` ((n + m) x (n + m), the n training points
    first) given the n targets `y`, at the m test points."""
    n = len(y)
    lam, u = np.linalg.eigh(kernel[:n, :n])
    hp = maximise(gp_evidence(lam, (u.T @ y) ** 2))
    return gp_predictive(kernel[:n, :n], kernel[n:, :n], np.diag(kernel)[n:], y, hp)


def linearised_laplace(kernel, outputs, y, shift_sq: float) -> Predictive:
    """The evidence-maximised linearised Laplace of a trained network.

    Args:
      kernel: (n + m) x (n + m) empirical NTK Gram at the trained parameters theta*, the n
        training points first.
      outputs: the network's (n + m) outputs f(theta*), the same points.
      y: the n training targets.
      shift_sq: |theta* - theta_0|^2, theta_0 the prior mean (the initialisation).
    """
    n = len(y)
    residual = y - outputs[:n]
    lam = np.linalg.eigh(kernel[:n, :n])[0]
    hp = maximise(laplace_evidence(lam, float(residual @ residual), shift_sq))
    var = gp_predictive(kernel[:n, :n], kernel[n:, :n], np.diag(kernel)[n:], residual, hp).var
    return Predictive(outputs[n:], var)
