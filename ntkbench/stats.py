"""Pre-registered statistics: confidence intervals over trials and the three-way verdict.

Verdicts: `supported` when the CI excludes 0 on the claimed side, `contradicted` when it
excludes 0 on the other side, else `inconclusive`.

Intervals. Claims run few trials (4 to 10), and a percentile bootstrap over k trials is too
narrow for small k: its coverage for a mean of 4 values is about 81%, not 95%. Every
interval here is therefore a t-interval, point +- t_{k-1} * SE, with the standard error of
a mean-like statistic: the sample standard error for a plain mean, the bootstrap standard
error scaled by sqrt(k / (k - 1)) (the bootstrap's plug-in variance is (k - 1) / k of the
unbiased one) for a statistic of trial means. For a mean of normal values this is the exact
t-interval; for the suite's other statistics its coverage is measured by the calibration
tests (tests/test_calibration.py). In [V]'s claims each trial draws its own training pool and
test set (`claims.protocol.trial_seed`), so the intervals cover which samples were drawn too.

References:
  Efron, Tibshirani, "An Introduction to the Bootstrap", 1993, Ch. 6 and 12 (bootstrap
  standard errors; t-based intervals for small samples).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy import stats

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
CONFIDENCE = 0.95
RESAMPLES = 2000
MAX_DIVERGED = 0.25
INTERVALS = ("95% CIs are t-intervals over trials: t_(k-1) times the standard error (for a "
             f"statistic of trial means, the bootstrap's over {RESAMPLES} paired resamples of the k trials, "
             "scaled by sqrt(k / (k - 1))); each trial of [V]'s claims has its own training pool and test "
             "set, so they cover a replication on other data. Each decision rule's false-supported rate "
             "and power are measured on synthetic data (README, Statistics).")


class Estimate(NamedTuple):
    value: float
    low: float
    high: float


def t_interval(point, standard_error, trials: int, confidence: float = CONFIDENCE) -> Estimate:
    """point +- t_{trials - 1} * standard_error (non-finite when either is)."""
    half = _t_quantile(confidence, max(trials - 1, 1)) * standard_error
    return Estimate(float(point), float(point - half), float(point + half))


@functools.lru_cache
def _t_quantile(confidence: float, df: int) -> float:
    """The two-sided `confidence` quantile of Student's t with `df` degrees of freedom
    (scipy's `ppf` was a sixth of the calibration tests' time)."""
    return float(stats.t.ppf(0.5 + confidence / 2, df))


def bootstrap_interval(point, samples, trials: int, confidence: float = CONFIDENCE) -> Estimate:
    """`point` with the t-interval of the bootstrap standard error of `samples`, a statistic
    recomputed on resamples of `trials` trials (see the module docstring)."""
    samples = np.asarray(samples, np.float64)
    finite = samples[np.isfinite(samples)]
    if len(finite) < 0.9 * len(samples) or not np.isfinite(point):
        return Estimate(float(point), np.nan, np.nan)
    se = np.std(finite) * np.sqrt(trials / max(trials - 1, 1))
    return t_interval(point, se, trials, confidence)


@functools.lru_cache
def resample_indices(trials: int, seed: int = 0, resamples: int = RESAMPLES) -> np.ndarray:
    """(resamples, trials) indices of trials drawn with replacement, fixed by `seed`; drawn
    once per arguments, read-only."""
    idx = np.random.default_rng(seed).integers(0, trials, size=(resamples, trials))
    idx.flags.writeable = False
    return idx


def curve_statistic(statistic, *curves, seed: int = 0) -> Estimate:
    """`statistic(*trial_means)` with a paired bootstrap t-interval over trials.

    Each array in `curves` has trials on axis 0 (e.g. test error per trial and width), all
    measured on the same trials; a resample draws trials with replacement, the same ones for
    every array. `statistic` is vectorised: it gets the trial means with a leading axis of
    resamples, shape (R, *curve.shape[1:]), and returns R values; it must work on the last
    axes (`e[..., 0]`, `e.min(-1)`). Statistics that pick a point of the curve (a minimum, a
    breakpoint) pick it anew in every resample. A statistic that returns a tuple of such
    arrays (several quantities of one costly fit) gets a tuple of Estimates.
    """
    arrays = [np.asarray(c, np.float64) for c in curves]
    trials = len(arrays[0])
    idx = resample_indices(trials, seed)
    samples = statistic(*(a[idx].mean(1) for a in arrays))
    point = statistic(*(a.mean(0)[None] for a in arrays))
    if isinstance(samples, tuple):
        return tuple(bootstrap_interval(p[0], s, trials) for p, s in zip(point, samples))
    return bootstrap_interval(point[0], samples, trials)


def within(difference: Estimate, margin: float) -> Estimate:
    """margin - |difference| with a CI: above 0 (`supported` with direction +1) exactly when
    the difference's CI lies inside (-margin, margin). An equivalence test (two one-sided
    tests, each at the level of the CI's tails: conservative at a 95% CI).

    References:
      Schuirmann, "A comparison of the two one-sided tests procedure and the power approach
      for assessing the equivalence of average bioavailability", J. Pharmacokinet. Biopharm.
      15 (1987).
    """
    farthest = max(abs(difference.low), abs(difference.high))
    nearest = 0.0 if difference.low <= 0 <= difference.high else min(abs(difference.low), abs(difference.high))
    return Estimate(margin - abs(difference.value), margin - farthest, margin - nearest)


def mean_ci(samples, confidence: float = CONFIDENCE) -> Estimate:
    """Mean of `samples` with its t-interval. For a paired comparison pass the per-trial
    differences."""
    x = np.asarray(samples, np.float64)
    mean = float(np.mean(x))
    if len(x) < 2 or np.ptp(x) == 0:
        return Estimate(mean, mean, mean)
    return t_interval(mean, np.std(x, ddof=1) / np.sqrt(len(x)), len(x), confidence)


def best_candidate(*differences) -> tuple[int, Estimate]:
    """Whether some candidate beats every reference, without selection bias.

    `differences[s][:, j]` holds, per trial, reference s minus candidate j (e.g. the error at
    the narrowest width minus the error at interior width j). Every candidate gets, for each
    reference, the t-interval of the mean difference at confidence 1 - (1 - CONFIDENCE) / m
    over m candidates (Bonferroni), and the lowest of the bounds over references (an
    intersection-union test: all must hold); returns the candidate with the highest lower
    bound and that interval. Its lower bound is above 0 only if some candidate is below
    every reference with 95% confidence jointly over all candidates, which picking the lowest
    of noisy means and testing it alone would claim far more often.
    """
    arrays = [np.asarray(d, np.float64) for d in differences]
    m = arrays[0].shape[1]
    confidence = 1 - (1 - CONFIDENCE) / m
    bounds = [Estimate(*np.min([mean_ci(a[:, j], confidence) for a in arrays], 0)) for j in range(m)]
    best = int(np.argmax([b.low for b in bounds]))
    return best, bounds[best]


def trend(x, curves) -> Estimate:
    """Mean over trials of each trial's least-squares slope of its curve (rows of `curves`)
    against log2(x), with its t-interval: a fixed linear combination of a trial's values, so
    the interval is exact under Gaussian noise. (Spearman's correlation per trial, over 4
    widths and 5 seeds, said `supported` 6% of the time on flat curves: a bounded, discrete
    statistic; of trial means, its bootstrap was too narrow as well.)"""
    t = np.log2(np.asarray(x, np.float64))
    t = t - t.mean()
    return mean_ci(np.asarray(curves, np.float64) @ t / (t @ t))


def verdict(estimate: Estimate, direction: int, *, diverged: float, unmet: str | None = None) -> str:
    """Verdict of the claim `direction * quantity > 0` from the CI of the quantity.

    `diverged` is the largest fraction of diverged runs among the models the quantity
    compares; above MAX_DIVERGED the comparison says more about the learning rate than about
    the models, and the verdict is `inconclusive` whatever the CI. So it is when `unmet`
    names a premise of the comparison that the runs did not meet.
    """
    if direction not in (+1, -1):
        raise ValueError(f"direction must be +1 or -1, not {direction!r}")
    if diverged > MAX_DIVERGED or unmet:
        return INCONCLUSIVE
    low, high = sorted((direction * estimate.low, direction * estimate.high))
    if low > 0:
        return SUPPORTED
    if high < 0:
        return CONTRADICTED
    return INCONCLUSIVE


def diverged_share(*arrays) -> float:
    """The largest fraction of trials (axis 0) with a non-finite value among `arrays`: how
    a claim counts diverged runs where its cells do not flag them."""
    return max(float(np.mean(~np.all(np.isfinite(np.asarray(a, np.float64)).reshape(len(a), -1), 1)))
               for a in arrays)
