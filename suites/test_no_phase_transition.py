"""[V] Sec. 5: the empirical NTK keeps improving through training at a steady log-log rate,
with no slow-down after an early flat phase, and no K^t scales like the network.

Pre-registered in the claim module's docstring. Decisions that the stored quick baseline
records as not `supported` are strict xfails with its numbers and the explanation below.
"""

import pytest

from ntkbench.claims import no_phase_transition as claim
from ntkbench.pytest_plugin import parametrize

pytestmark = pytest.mark.claim(claim.CLAIM)

_KNIFE_EDGE = ("the fit range n = 256..1024 (3 of the grid's 5 points) lies on a knife edge (its margin 0.49 "
               "standard errors), and in more than a tenth of the bootstrap resamples, which choose the range "
               "again, fewer than 3 points remain, so no interval is formed (point estimate {point}; supported "
               "with the range fixed)")
WHY_NOT_REPRODUCED = {
    "diff/NN-K^t0": _KNIFE_EDGE.format(point=0.21),
    "diff/NN-K^tmid": _KNIFE_EDGE.format(point=0.25),
    "diff/NN-K^tend": _KNIFE_EDGE.format(point=0.27),
    "steady_rate": "with each trial on its own training pool (issue 27) the late half of K^t's fit error "
                   "falls at -0.229 [-0.299, -0.160] per log-step, less steeply than the middle half, so late - "
                   "2/3 x middle is -0.042 [-0.161, 0.077]: a slow-down cannot be ruled out (on one pool shared "
                   "by every trial it was -0.207, supported)",
}
DECISIONS = ("slope_change", "late_slope", "steady_rate") + tuple(f"diff/NN-K^{t}" for t in claim.TIMES)


def pytest_generate_tests(metafunc):
    parametrize(metafunc, WHY_NOT_REPRODUCED, decision=DECISIONS)


def test_decision_rule(bench, decision):
    bench.expect(claim.CLAIM, decision)


def test_negative_control_holds(bench):
    """A network trained on shuffled labels: its kernel must not keep improving on the task."""
    bench.expect_control(claim.CLAIM, "control/shuffled-labels/late_slope")


def test_statistics_match_baseline(bench):
    bench.check_baseline(claim.CLAIM)
