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
    """The grid points a claim fits (`mask`), where the rule leaves too few, why not
    (`unmet`), how far the choice lies from a knife edge (`margin`, see `kept`), and the
    rule's choice on each bootstrap resample of the trials (`resampled`, one mask per row of
    `stats.resample_indices`; a row without enough points is all False), so that an interval
    over trials also covers which range a replication would choose."""

    mask: np.ndarray
    unmet: str | None
    margin: float = np.inf
    resampled: np.ndarray | None = None


TRAINED = 0.01  # a network "reached zero training error" at or below this 0-1 training error
KNIFE_EDGE = 3.0
"""Pre-registered (issue 26, before the reruns that use it): a data-dependent choice is on a
knife edge when a trial mean that decides one of its candidates lies within this many
standard errors (at least the quantity's resolution) of its threshold. Another machine,
whose float32 training differs in its last bits, could then choose otherwise: chaotic
training moves each trial by up to its own spread, the mean by about sqrt(2) standard
errors, so 3 leaves about 2 standard deviations of that move. Such a choice is reported as
fragile, and a baseline recorded with another choice is not held against it."""


class Criterion(NamedTuple):
    """A candidate passes when the trial mean of its column of `values` (trials, candidates)
    is at most `threshold`; `resolution` is the smallest step of one trial's value (1 / n_test
    for a test error), so that of the mean is `resolution` / trials, the floor of its
    standard error."""

    values: np.ndarray
    threshold: float
    resolution: float | np.ndarray


def distance(criterion: Criterion) -> np.ndarray:
    """Per candidate, |trial mean - threshold| in standard errors of the mean (floored at the
    mean's resolution): how far numeric noise would have to move it to change its side."""
    values = np.asarray(criterion.values, np.float64)
    gap = np.abs(values.mean(0) - criterion.threshold)
    se = values.std(0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.zeros(values.shape[1:])
    scale = np.maximum(se, np.asarray(criterion.resolution) / len(values))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, gap / scale, np.where(gap > 0, np.inf, 0.0))


def kept(*criteria: Criterion) -> tuple[np.ndarray, float]:
    """The candidates that pass every criterion, and the choice's margin: the least, over
    candidates, of how far (`distance`) the criteria that decide it lie from their thresholds
    (a kept candidate leaves if any criterion flips, a left-out one enters only if every
    failing one does). Below `KNIFE_EDGE` the choice is on a knife edge."""
    passes = np.stack([np.asarray(c.values, np.float64).mean(0) <= c.threshold for c in criteria])
    distances = np.stack([distance(c) for c in criteria])
    mask = passes.all(0)
    per_candidate = np.where(mask, distances.min(0), np.where(passes, -np.inf, distances).max(0))
    return mask, float(per_candidate.min()) if per_candidate.size else np.inf


def untrained(sizes, train_error) -> dict:
    """The sizes (n, m or widths) whose networks' trial-mean training error is above
    `TRAINED`, each with that error: the points a claim leaves out of its decisions."""
    return {size: float(e) for size, e in zip(sizes, train_error) if e > TRAINED}


def fit_range(ns, errors: dict, train_error=None, *, n_test: int, chance: float = 0.5, below: float = 0.8,
              trained: float = TRAINED, min_points: int = 3, seed: int = 0) -> FitRange:
    """The grid points in the power-law regime, the same for every model compared.

    A point enters when every model's trial-mean test error there is at most `below` x
    chance (it has left chance: a curve still near chance describes the approach to a power
    law, not the law) and, with `train_error` (the networks' training error at the end of
    training, (trials, len(ns))), their trial mean is at most `trained` (the papers'
    networks interpolate). `errors[m]` is model m's (trials, len(ns)) test error on
    `n_test` points. Fewer than `min_points` such points leave nothing to fit: `unmet` says
    why, and the decisions on this range are inconclusive; the mask is then the whole grid,
    for the record. The margin is `kept`'s; `resampled` the same rule on each bootstrap
    resample (`seed`) of the trials.
    """
    criteria = [Criterion(e, below * chance, 1 / n_test) for e in errors.values()]
    if train_error is not None:
        criteria.append(Criterion(train_error, trained, 1 / np.asarray(ns, np.float64)))
    mask, margin = kept(*criteria)
    idx = resample_indices(len(criteria[0].values), seed)
    resampled = np.all([np.asarray(c.values, np.float64)[idx].mean(1) <= c.threshold for c in criteria], axis=0)
    resampled &= resampled.sum(1, keepdims=True) >= min_points
    if mask.sum() >= min_points:
        return FitRange(mask, None, margin, resampled)
    return FitRange(np.ones(len(ns), bool),
                    f"only {int(mask.sum())} of the n-grid's {len(ns)} points have every model's test error "
                    f"below {below:g} x chance and the networks' training error at most {trained:g}; "
                    f"a power law needs {min_points}", margin, resampled)


def describe(fitted: FitRange) -> str:
    """The rule of `fit_range`, for a recorded choice."""
    return ("n where every model's trial-mean test error is at most 0.8 x chance and the networks' trial-mean "
            f"training error at most {TRAINED:g}" + (f" ({fitted.unmet}: the whole grid)" if fitted.unmet else ""))


def floor_zeros(errors, n_test: int) -> tuple[np.ndarray, int]:
    """Errors with zeros replaced by 1 / (2 n_test), and how many there were."""
    errors = np.asarray(errors, np.float64)
    zeros = int(np.sum(errors <= 0))
    return np.where(errors > 0, errors, 0.5 / n_test), zeros


def _resampled_betas(ns, curves, seed, masks=None):
    """beta of the trial-mean curve for each bootstrap resample of trials (rows of `curves`),
    fitted on the points `masks[r]` of resample r (every point without; NaN where a row has
    fewer than two)."""
    idx = resample_indices(curves[0].shape[0], seed)
    logn = np.log(np.asarray(ns, np.float64))
    w = np.ones((len(idx), len(logn))) if masks is None else np.asarray(masks, np.float64)
    count = w.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = np.where(w > 0, logn - (w * logn).sum(1, keepdims=True) / count[:, None], 0.0)
        out = []
        for c in curves:
            loge = np.where(w > 0, np.log(c[idx].mean(axis=1)), 0.0)
            loge = np.where(w > 0, loge - (w * loge).sum(1, keepdims=True) / count[:, None], 0.0)
            out.append(np.where(count >= 2, -(loge * centred).sum(1) / (centred**2).sum(1), np.nan))
    return out


def exponent(ns, errors, *, seed: int = 0, within: FitRange | None = None) -> Estimate:
    """beta of the trial-mean curve with its bootstrap t-interval; `errors` is (trials, len(ns)).
    `within`: fitted on its range, each resample on the range the rule chose for it."""
    errors = np.asarray(errors, np.float64)
    (samples,) = _resampled_betas(ns, [errors], seed, None if within is None else within.resampled)
    ns, point = _within(ns, errors, within)
    return bootstrap_interval(fit(ns, point.mean(0)).beta, samples, len(errors))


def exponent_difference(ns, errors_a, errors_b, *, seed: int = 0, within: FitRange | None = None) -> Estimate:
    """beta_a - beta_b with a paired bootstrap CI (the same trials resampled for both); `within`
    as in `exponent`."""
    errors_a, errors_b = np.asarray(errors_a, np.float64), np.asarray(errors_b, np.float64)
    a, b = _resampled_betas(ns, [errors_a, errors_b], seed, None if within is None else within.resampled)
    ns_fit, fit_a = _within(ns, errors_a, within)
    point = fit(ns_fit, fit_a.mean(0)).beta - fit(ns_fit, _within(ns, errors_b, within)[1].mean(0)).beta
    return bootstrap_interval(point, a - b, len(errors_a))


def _within(ns, errors, within: FitRange | None):
    if within is None:
        return ns, errors
    return np.asarray(ns)[within.mask], errors[:, within.mask]
