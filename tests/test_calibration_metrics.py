"""Gaussian NLL and interval ECE against known values."""

import numpy as np
from scipy import stats as sps

from ntkbench import calibration

# A sample of N(0, 1) at its own quantiles: calibrated up to 1 / N at every level.
SAMPLE = sps.norm.ppf((np.arange(100_000) + 0.5) / 100_000)


def test_nll_of_the_standard_normal_at_its_mean():
    assert calibration.gaussian_nll(np.zeros(1), np.ones(1), np.zeros(1)) == 0.5 * np.log(2 * np.pi)


def test_a_calibrated_predictive_covers_every_level():
    zeros, ones = np.zeros_like(SAMPLE), np.ones_like(SAMPLE)
    np.testing.assert_allclose(calibration.interval_coverage(zeros, ones, SAMPLE), calibration.LEVELS, atol=1e-4)
    assert calibration.gaussian_ece(zeros, ones, SAMPLE) < 1e-4


def test_an_over_confident_predictive_has_the_known_ece():
    """Standard deviation half the true one: level p covers only 2 Phi(z_p / 2) - 1."""
    levels = calibration.LEVELS
    coverage = 2 * sps.norm.cdf(sps.norm.ppf(0.5 + levels / 2) / 2) - 1
    got = calibration.gaussian_ece(np.zeros_like(SAMPLE), np.full_like(SAMPLE, 0.25), SAMPLE)
    np.testing.assert_allclose(got, np.mean(levels - coverage), atol=1e-4)
    assert got > 0.2
