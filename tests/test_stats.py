"""Confidence intervals over trials and the three-way verdict."""

import numpy as np
import pytest

from ntkbench import stats


def test_verdict_directions():
    assert stats.verdict(stats.Estimate(1, 0.5, 1.5), +1, diverged=0) == stats.SUPPORTED
    assert stats.verdict(stats.Estimate(-1, -1.5, -0.5), +1, diverged=0) == stats.CONTRADICTED
    assert stats.verdict(stats.Estimate(0.1, -0.5, 0.7), +1, diverged=0) == stats.INCONCLUSIVE
    assert stats.verdict(stats.Estimate(-1, -1.5, -0.5), -1, diverged=0) == stats.SUPPORTED
    assert stats.verdict(stats.Estimate(1, np.nan, np.nan), +1, diverged=0) == stats.INCONCLUSIVE
    with pytest.raises(ValueError, match="direction"):
        stats.verdict(stats.Estimate(1, 0.5, 1.5), 0, diverged=0)


def test_mean_ci_is_the_t_interval():
    x = np.array([0.1, 0.4, 0.2, 0.5])
    est = stats.mean_ci(x)
    half = 3.182446305284263 * np.std(x, ddof=1) / 2  # t_{0.975, 3}
    assert est.value == pytest.approx(0.3) and est.high - est.value == pytest.approx(half)


@pytest.mark.parametrize("trials", [4, 8])
def test_intervals_cover_the_truth_about_95_percent(trials):
    """A mean of k normal values: the plain t-interval and the bootstrap t-interval of a
    statistic of trial means both cover about 95% (a percentile bootstrap covers 81% at k = 4)."""
    rng = np.random.default_rng(1)
    plain, boot = [], []
    for s in range(400):
        x = rng.normal(size=(trials, 1))
        plain.append((e := stats.mean_ci(x[:, 0])).low < 0 < e.high)
        boot.append((e := stats.curve_statistic(lambda m: m[..., 0], x, seed=s)).low < 0 < e.high)
    assert 0.93 < np.mean(plain) < 0.97 and 0.91 < np.mean(boot) < 0.99


def test_degenerate_samples():
    assert stats.mean_ci([2.0, 2.0, 2.0]) == stats.Estimate(2.0, 2.0, 2.0)
    assert stats.mean_ci([1.0]) == stats.Estimate(1.0, 1.0, 1.0)


def test_curve_statistic_is_paired_and_recomputes_picks_per_resample():
    rng = np.random.default_rng(2)
    shared = rng.normal(size=(12, 5))
    a, b = shared + np.arange(5), shared + np.arange(5) + 0.1
    diff = stats.curve_statistic(lambda u, v: np.mean(v - u, -1), a, b)
    assert np.allclose([diff.low, diff.value, diff.high], 0.1)  # pairing cancels the noise
    argmin = stats.curve_statistic(lambda u: np.argmin(u, -1).astype(float), rng.normal(size=(12, 5)))
    assert argmin.high > argmin.low
    first, last = stats.curve_statistic(lambda u: (u[..., 0], u[..., -1]), a)
    assert first.value == pytest.approx(a[:, 0].mean()) and last.value == pytest.approx(a[:, -1].mean())


def test_trend_is_the_mean_per_trial_slope_in_log2():
    x = np.array([1, 2, 4, 8])
    rows = np.array([[4.0, 3, 2, 1], [1, 2, 3, 4], [1, 1, 1, 1]])
    est = stats.trend(x, rows)
    assert est.value == pytest.approx(0.0) and est.low < 0 < est.high
    assert stats.trend(x, rows[:1] + [[0.0], [0.01]]).value == pytest.approx(-1.0)


def test_too_many_diverged_runs_make_any_verdict_inconclusive():
    clear = stats.Estimate(1, 0.5, 1.5)
    assert stats.verdict(clear, +1, diverged=stats.MAX_DIVERGED) == stats.SUPPORTED
    assert stats.verdict(clear, +1, diverged=0.3) == stats.INCONCLUSIVE
    assert stats.diverged_share(np.array([[1.0, np.nan], [1.0, 2.0]]), np.ones((2, 2))) == 0.5


def test_an_unmet_premise_makes_any_verdict_inconclusive():
    clear = stats.Estimate(1.0, 0.5, 1.5)
    assert stats.verdict(clear, +1, diverged=0.0) == stats.SUPPORTED
    assert stats.verdict(clear, +1, diverged=0.0, unmet="the networks did not train") == stats.INCONCLUSIVE


def test_within_is_supported_exactly_when_the_ci_lies_inside_the_margin():
    inside, straddling, outside = (stats.Estimate(0.01, -0.02, 0.03), stats.Estimate(0.04, 0.0, 0.08),
                                   stats.Estimate(-0.2, -0.25, -0.15))
    np.testing.assert_allclose(stats.within(inside, 0.05), (0.04, 0.02, 0.05))
    assert stats.verdict(stats.within(inside, 0.05), +1, diverged=0.0) == stats.SUPPORTED
    assert stats.verdict(stats.within(straddling, 0.05), +1, diverged=0.0) == stats.INCONCLUSIVE
    assert stats.verdict(stats.within(outside, 0.05), +1, diverged=0.0) == stats.CONTRADICTED
