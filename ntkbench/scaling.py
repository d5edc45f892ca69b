"""Data-scaling exponents: power-law fits with bootstrap CIs over trials.

L(n) = a n^(-beta) is fitted by least squares in log-log on the trial-mean error curve;
the CI is the bootstrap t-interval over trials of `stats` (pairs of curves stay together
when comparing two models measured on the same trials). Errors of exactly 0 are floored at
half the test set's resolution so that log() stays finite; the fit reports how many were.

References:
  Vyas, Bansal, Nakkiran, "Limitations of the NTK for understanding generalization in
  deep learning" (2022), Sec. 3: exponents of NN, ENTK and NTK learning curves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ntkbench.stats import Estimate, bootstrap_interval, resample_indices


class PowerLaw(NamedTuple):
    a: float
    beta: float
    r2: float
    curvature: float


def fit(ns, errors) -> PowerLaw:
    """Least-squares fit of log(error) = log(a) - beta log(n); `errors` is a curve over `ns`.

    `curvature` is the quadratic coefficient of a second-order fit in log-log: near 0 for a
    power law, positive when the curve flattens (toward chance or the test set's resolution).
    """
    logn, loge = np.log(np.asarray(ns, np.float64)), np.log(np.asarray(errors, np.float64))
    slope, intercept = np.polyfit(logn, loge, 1)
    resid = loge - (slope * logn + intercept)
    total = np.sum((loge - loge.mean()) ** 2)
    r2 = 1 - np.sum(resid**2) / total if total > 0 else 1.0
    curvature = np.polyfit(logn, loge, 2)[0] if len(ns) > 2 else 0.0
    return PowerLaw(float(np.exp(intercept)), float(-slope), float(r2), float(curvature))


class FitRange(NamedTuple):
    """The grid points a claim fits (`mask`) and, where the rule leaves too few, why not."""

    mask: np.ndarray
    unmet: str | None


TRAINED = 0.01  # a network "reached zero training error" at or below this 0-1 training error


def untrained(sizes, train_error) -> dict:
    """The sizes (n, m or widths) whose networks' trial-mean training error is above
    `TRAINED`, each with that error: the points a claim leaves out of its decisions."""
    return {size: float(e) for size, e in zip(sizes, train_error) if e > TRAINED}


def fit_range(ns, mean_errors: dict, train_error=None, *, chance: float = 0.5, below: float = 0.8,
              trained: float = TRAINED, min_points: int = 3) -> FitRange:
    """The grid points in the power-law regime, the same for every model compared.

    A point enters when every model's trial-mean test error there is at most `below` x
    chance (it has left chance: a curve still near chance describes the approach to a power
    law, not the law) and, with `train_error` (the networks' trial-mean training error at
    the end of training), the networks fitted their training set to `trained` or better
    (the papers' networks interpolate). Fewer than `min_points` such points leave nothing
    to fit: `unmet` says why, and the decisions on this range are inconclusive; the mask is
    then the whole grid, for the record.
    """
    errors = np.stack([np.asarray(e, np.float64) for e in mean_errors.values()])
    mask = np.all(errors <= below * chance, axis=0)
    if train_error is not None:
        mask &= np.asarray(train_error) <= trained
    if mask.sum() >= min_points:
        return FitRange(mask, None)
    return FitRange(np.ones(len(ns), bool),
                    f"only {int(mask.sum())} of the n-grid's {len(ns)} points have every model's test error "
                    f"below {below:g} x chance and the networks' training error at most {trained:g}; "
                    f"a power law needs {min_points}")


def floor_zeros(errors, n_test: int) -> tuple[np.ndarray, int]:
    """Errors with zeros replaced by 1 / (2 n_test), and how many there were."""
    errors = np.asarray(errors, np.float64)
    zeros = int(np.sum(errors <= 0))
    return np.where(errors > 0, errors, 0.5 / n_test), zeros


def _resampled_betas(ns, curves, seed):
    """beta of the trial-mean curve for each bootstrap resample of trials (rows of `curves`)."""
    idx = resample_indices(curves[0].shape[0], seed)
    logn = np.log(np.asarray(ns, np.float64))
    centred = logn - logn.mean()
    out = []
    for c in curves:
        loge = np.log(c[idx].mean(axis=1))
        out.append(-(loge - loge.mean(axis=1, keepdims=True)) @ centred / (centred @ centred))
    return out


def exponent(ns, errors, *, seed: int = 0) -> Estimate:
    """beta of the trial-mean curve with its bootstrap t-interval; `errors` is (trials, len(ns))."""
    errors = np.asarray(errors, np.float64)
    (samples,) = _resampled_betas(ns, [errors], seed)
    return bootstrap_interval(fit(ns, errors.mean(0)).beta, samples, len(errors))


def exponent_difference(ns, errors_a, errors_b, *, seed: int = 0) -> Estimate:
    """beta_a - beta_b with a paired bootstrap CI (the same trials resampled for both)."""
    errors_a, errors_b = np.asarray(errors_a, np.float64), np.asarray(errors_b, np.float64)
    a, b = _resampled_betas(ns, [errors_a, errors_b], seed)
    point = fit(ns, errors_a.mean(0)).beta - fit(ns, errors_b.mean(0)).beta
    return bootstrap_interval(point, a - b, len(errors_a))
