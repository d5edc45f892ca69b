"""[W]: the kernel regime's benefits (kernel stability, fast second-order optimisation, less
forgetting, reliable uncertainty) appear only at widths far beyond practice.

Pre-registered in the claim module's docstring; the paper publishes no numbers, so the
quick baseline is our measurement and the report shows, per depth, the width at which the
kernel regime would begin. Decisions and controls that the stored quick baseline records as
not as claimed are strict xfails with its numbers and the explanation below.
"""

import pytest

from ntkbench.claims import practical_limits as claim
from ntkbench.pytest_plugin import parametrize

pytestmark = pytest.mark.claim(claim.CLAIM)

RULES = ("a/width_exponent", "a/depth_exponent", "a/change_at_practical_width",
         "b/gn_gap_at_widest", "b/gn_gap_trend", "c/forgetting_trend_short",
         "d/laplace_minus_ntk_gp/ece", "d/laplace_minus_ntk_gp/nll")
CONTROLS = ("control/a/lazy_change_at_practical_width", "control/b/lazy_gn_gap",
            "control/d/entk_gp_minus_ntk_gp/ece", "c/forgetting_trend_converged")
WHY_NOT_REPRODUCED = {
    "d/laplace_minus_ntk_gp/ece": "the CI straddles 0 with 5 seeds",
    "c/forgetting_trend_converged": "wider networks forgot less also when both tasks were trained to convergence",
}


def pytest_generate_tests(metafunc):
    parametrize(metafunc, WHY_NOT_REPRODUCED, decision=RULES, control=CONTROLS)


def test_decision_rule(bench, decision):
    bench.expect(claim.CLAIM, decision)


def test_negative_control_holds(bench, control):
    """Negative controls, and (c) at convergence: wider networks should not forget less there."""
    bench.expect_control(claim.CLAIM, control)


def test_statistics_match_baseline(bench):
    bench.check_baseline(claim.CLAIM)
