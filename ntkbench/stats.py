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


def verdict(estimate: Estimate, direction: int = +1) -> str:
    """Verdict of the claim `direction * quantity > 0` from the CI of the quantity."""
    low, high = sorted((direction * estimate.low, direction * estimate.high))
    if low > 0:
        return SUPPORTED
    if high < 0:
        return CONTRADICTED
    return INCONCLUSIVE
