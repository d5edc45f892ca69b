"""Bootstrap CIs and the three-way verdict."""

import numpy as np

from ntkbench import stats


def test_verdict_directions():
    assert stats.verdict(stats.Estimate(1, 0.5, 1.5)) == stats.SUPPORTED
    assert stats.verdict(stats.Estimate(-1, -1.5, -0.5)) == stats.CONTRADICTED
    assert stats.verdict(stats.Estimate(0.1, -0.5, 0.7)) == stats.INCONCLUSIVE
    assert stats.verdict(stats.Estimate(-1, -1.5, -0.5), direction=-1) == stats.SUPPORTED


def test_ci_is_deterministic_and_brackets_the_mean():
    x = np.random.default_rng(0).normal(0.3, 1, size=30)
    a, b = stats.mean_ci(x), stats.mean_ci(x)
    assert a == b and a.low < a.value < a.high


def test_ci_covers_the_truth_about_95_percent():
    rng = np.random.default_rng(1)
    covered = [(est := stats.mean_ci(rng.normal(size=20), seed=s)).low < 0 < est.high for s in range(200)]
    assert 0.85 < np.mean(covered) <= 1.0


def test_degenerate_samples():
    assert stats.mean_ci([2.0, 2.0, 2.0]) == stats.Estimate(2.0, 2.0, 2.0)
    assert stats.mean_ci([1.0]) == stats.Estimate(1.0, 1.0, 1.0)


def test_curve_statistic_is_paired_and_recomputes_picks_per_resample():
    rng = np.random.default_rng(2)
    shared = rng.normal(size=(12, 5))
    a, b = shared + np.arange(5), shared + np.arange(5) + 0.1
    diff = stats.curve_statistic(lambda u, v: np.mean(v - u), a, b)
    assert np.allclose([diff.low, diff.value, diff.high], 0.1)  # pairing cancels the noise
    argmin = stats.curve_statistic(lambda u: float(np.argmin(u)), rng.normal(size=(12, 5)))
    assert argmin.low <= argmin.value <= argmin.high and argmin.high > argmin.low


def test_too_many_diverged_runs_make_any_verdict_inconclusive():
    clear = stats.Estimate(1, 0.5, 1.5)
    assert stats.verdict(clear, diverged=stats.MAX_DIVERGED) == stats.SUPPORTED
    assert stats.verdict(clear, diverged=0.3) == stats.INCONCLUSIVE
