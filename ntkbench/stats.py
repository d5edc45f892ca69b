"""Pre-registered statistics: bootstrap confidence intervals and the three-way verdict.

Verdicts (DESIGN.md, Statistics): `supported` when the CI excludes 0 on the claimed side,
`contradicted` when it excludes 0 on the other side, else `inconclusive`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
CONFIDENCE = 0.95
N_RESAMPLES = 10_000


class Estimate(NamedTuple):
    value: float
    low: float
    high: float


def percentile_interval(point, samples, confidence: float = CONFIDENCE) -> Estimate:
    """`point` with the percentile CI of its bootstrap `samples`."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(np.asarray(samples, np.float64), [tail, 100 - tail])
    return Estimate(float(point), float(low), float(high))


def curve_statistic(statistic, *curves, seed: int = 0, resamples: int = 2000) -> Estimate:
    """`statistic(*trial_means)` with a paired percentile bootstrap CI over trials.

    Each array in `curves` has trials on axis 0 (e.g. test error per trial and width), all
    measured on the same trials; a resample draws trials with replacement, the same ones for
    every array, and `statistic` sees their means over the drawn trials. Statistics that pick
    a point of the curve (a minimum, a breakpoint) pick it anew in every resample.
    """
    arrays = [np.asarray(c, np.float64) for c in curves]
    idx = np.random.default_rng(seed).integers(0, len(arrays[0]), size=(resamples, len(arrays[0])))
    samples = [statistic(*(a[i].mean(0) for a in arrays)) for i in idx]
    return percentile_interval(statistic(*(a.mean(0) for a in arrays)), samples)


def mean_ci(samples, *, seed: int = 0, confidence: float = CONFIDENCE) -> Estimate:
    """Mean of `samples` with a BCa bootstrap CI (resampling the samples, fixed seed).

    For a paired comparison pass the per-trial differences: resampling trials keeps the
    pairs together.
    """
    x = np.asarray(samples, np.float64)
    mean = float(np.mean(x))
    if len(x) < 2 or np.ptp(x) == 0:
        return Estimate(mean, mean, mean)
    res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=N_RESAMPLES,
                          method="BCa", rng=np.random.default_rng(seed))
    return Estimate(mean, float(res.confidence_interval.low), float(res.confidence_interval.high))


MAX_DIVERGED = 0.25


def verdict(estimate: Estimate, direction: int = +1, *, diverged: float = 0.0) -> str:
    """Verdict of the claim `direction * quantity > 0` from the CI of the quantity.

    `diverged` is the largest fraction of diverged runs among the models the quantity
    compares; above MAX_DIVERGED the comparison says more about the learning rate than about
    the models, and the verdict is `inconclusive` whatever the CI.
    """
    if diverged > MAX_DIVERGED:
        return INCONCLUSIVE
    low, high = sorted((direction * estimate.low, direction * estimate.high))
    if low > 0:
        return SUPPORTED
    if high < 0:
        return CONTRADICTED
    return INCONCLUSIVE
