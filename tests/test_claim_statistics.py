"""The statistics the width and kernel-evolution claims decide with, on curves of known shape."""

import numpy as np
import pytest

from ntkbench.claims.no_phase_transition import hinge, segments
from ntkbench.claims.width_deterioration import interior_minimum


def test_interior_minimum_sees_a_dip_and_not_a_monotone_curve():
    assert interior_minimum(np.array([0.4, 0.1, 0.2, 0.3])) == pytest.approx(0.2)
    assert interior_minimum(np.array([0.4, 0.3, 0.2, 0.1])) == pytest.approx(-0.1)
    assert interior_minimum(np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(-0.1)


def test_hinge_recovers_breakpoint_and_slopes():
    log_t = np.log(np.geomspace(1, 2000, 25))
    b = log_t[9]
    log_e = -1.0 + 0.0 * np.minimum(log_t - b, 0) - 0.4 * np.maximum(log_t - b, 0)
    found, before, after = hinge(log_t, log_e)
    assert found == b and before == pytest.approx(0, abs=1e-9) and after == pytest.approx(-0.4)


def test_segments_tell_a_slow_down_from_a_steady_slope():
    log_t = np.log(np.geomspace(1, 2000, 40))
    b = log_t[8]
    steady = -1.0 - 0.4 * np.maximum(log_t - b, 0)
    middle, late = segments(log_t, steady)
    assert middle == pytest.approx(-0.4, abs=1e-6) and late == pytest.approx(-0.4, abs=1e-6)
    knee = (b + log_t[-1]) / 2
    slowing = steady + 0.15 * np.maximum(log_t - knee, 0)
    middle, late = segments(log_t, slowing)
    assert late - middle > 0.1
