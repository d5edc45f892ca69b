"""Scores of Gaussian predictive distributions N(mean, var) against observed targets.

References:
  Kuleshov, Fenner, Ermon, "Accurate uncertainties for deep learning using calibrated
  regression", ICML 2018 (calibration of regression predictives by interval coverage).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

LEVELS = np.linspace(0.1, 0.9, 9)


def gaussian_nll(mean, var, y) -> float:
    """Mean negative log-likelihood of the targets `y` under N(mean, var)."""
    return float(np.mean(0.5 * np.log(2 * np.pi * var) + (y - mean) ** 2 / (2 * var)))


def interval_coverage(mean, var, y, levels=LEVELS) -> np.ndarray:
    """The share of targets inside the central interval of N(mean, var) of each level."""
    z = np.abs(y - mean) / np.sqrt(var)
    return np.array([np.mean(z <= sps.norm.ppf(0.5 + p / 2)) for p in levels])


def gaussian_ece(mean, var, y, levels=LEVELS) -> float:
    """Expected calibration error: mean |coverage - level| over the central intervals' levels.

    0 for a calibrated predictive (up to sampling); a predictive whose standard deviation is
    c times the true one covers 2 Phi(c z_p) - 1 at level p, z_p = Phi^-1((1 + p) / 2).
    """
    levels = np.asarray(levels)
    return float(np.mean(np.abs(interval_coverage(mean, var, y, levels) - levels)))
