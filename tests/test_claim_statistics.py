"""The statistics the width and kernel-evolution claims decide with, on curves of known shape."""

import numpy as np
import pytest

from ntkbench import stats
from ntkbench.claims.no_phase_transition import hinge, shape
from ntkbench.claims.width_deterioration import interior_dip


def test_interior_dip_sees_a_dip_and_not_a_monotone_curve():
    noise = np.random.default_rng(0).normal(scale=0.01, size=(8, 4))
    dip = np.array([0.4, 0.1, 0.2, 0.3]) + noise
    assert interior_dip(dip, dip[:, 0], dip[:, -1]).low > 0
    falling = np.array([0.4, 0.3, 0.2, 0.1]) + noise
    assert interior_dip(falling, falling[:, 0], falling[:, -1]).high < 0


def test_best_candidate_is_simultaneous_over_candidates():
    """One candidate 0.05 below the reference with sd 0.01 over 8 trials: found by a
    Bonferroni interval; the same lead over 50 candidates needs a wider interval."""
    rng = np.random.default_rng(1)
    diffs = rng.normal(scale=0.01, size=(8, 5))
    diffs[:, 3] += 0.05
    best, est = stats.best_candidate(diffs)
    assert best == 3 and est.low > 0
    wide = stats.best_candidate(np.concatenate([diffs, np.zeros((8, 45))], 1))[1]
    assert wide.low < est.low and wide.value == est.value


def test_hinge_recovers_breakpoint_and_slopes():
    log_t = np.log(np.geomspace(1, 2000, 25))
    b = log_t[9]
    log_e = -1.0 + 0.0 * np.minimum(log_t - b, 0) - 0.4 * np.maximum(log_t - b, 0)
    found, before, after = hinge(log_t, log_e)
    assert found == b and before == pytest.approx(0, abs=1e-9) and after == pytest.approx(-0.4)
    many = hinge(log_t, np.stack([log_e, 2 * log_e]))
    assert np.all(many[0] == b) and many[2] == pytest.approx([-0.4, -0.8])


def test_shape_tells_a_slow_down_from_a_steady_slope():
    log_t = np.log(np.geomspace(1, 2000, 40))
    b = log_t[8]
    steady = -1.0 - 0.4 * np.maximum(log_t - b, 0)
    _, before, after, middle, late = shape(log_t, steady)
    assert middle == pytest.approx(-0.4, abs=1e-6) and late == pytest.approx(-0.4, abs=1e-6)
    assert after - before == pytest.approx(-0.4, abs=1e-6)
    knee = (b + log_t[-1]) / 2
    slowing = steady + 0.15 * np.maximum(log_t - knee, 0)
    _, _, _, middle, late = shape(log_t, slowing)
    assert late - middle > 0.1
    steep_then_flat = -1.0 - 0.4 * np.minimum(log_t - b, 0)
    _, before, after, _, _ = shape(log_t, steep_then_flat)
    assert after - before > 0.3  # a slow-down: the breakpoint is not the onset of improvement


def test_merging_statistics_refuses_a_name_recorded_twice():
    from ntkbench.results import Statistics
    from ntkbench.stats import Estimate

    a, b = Statistics(), Statistics()
    a.measure("x", Estimate(1.0, 0.0, 2.0), "")
    b.measure("x", Estimate(1.0, 0.0, 2.0), "")
    with pytest.raises(ValueError, match="recorded twice"):
        a | b
