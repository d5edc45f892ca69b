"""[W]: the kernel regime's benefits (kernel stability, fast second-order optimisation, less
forgetting, reliable uncertainty) appear only at widths far beyond practice.

Pre-registered in the claim module's docstring; the paper publishes no numbers, so the
quick baseline is our measurement and the report shows, per depth, the width at which the
kernel regime would begin. A rule whose measured verdict is not the claimed one is a
strict xfail with the measured reason.
"""

import pytest

from ntkbench.claims import practical_limits as claim
from ntkbench.stats import SUPPORTED

pytestmark = pytest.mark.claim(claim.CLAIM)

RULES = ("a/width_exponent", "a/depth_exponent", "a/change_at_practical_width",
         "b/gn_gap_at_widest", "b/gn_gap_trend", "c/forgetting_trend_short",
         "d/laplace_minus_ntk_gp/ece", "d/laplace_minus_ntk_gp/nll")
CONTROLS = ("control/a/lazy_change_at_practical_width", "control/b/lazy_gn_gap",
            "control/d/entk_gp_minus_ntk_gp/ece", "c/forgetting_trend_converged")
DID_NOT_REPRODUCE = {
    "c/forgetting_trend_converged": "quick scale: wider networks forgot less also when both tasks "
                                    "were trained to convergence (Spearman -0.8, CI [-1.0, -0.4])",
}


def _controls(scale):
    return [pytest.param(n, marks=[pytest.mark.xfail(strict=True, reason=DID_NOT_REPRODUCE[n])]
                         if scale == "quick" and n in DID_NOT_REPRODUCE else []) for n in CONTROLS]


def pytest_generate_tests(metafunc):
    if "control" in metafunc.fixturenames:
        metafunc.parametrize("control", _controls(metafunc.config.getoption("scale")))


@pytest.mark.parametrize("rule", RULES)
def test_decision_rule(bench, rule):
    bench.expect(claim.CLAIM, rule, verdict=SUPPORTED)


def test_kernel_regime_widths_match_baseline(bench):
    for name in bench.run(claim.CLAIM).statistics:
        if name.startswith("a/kernel_regime_width/"):
            bench.expect(claim.CLAIM, name, verdict=None)


def test_must_not_be_supported(bench, control):
    """Negative controls, and (c) at convergence: wider networks should not forget less there."""
    bench.expect(claim.CLAIM, control, verdict=None)
    stat = bench.run(claim.CLAIM).statistics[control]
    assert stat.verdict != SUPPORTED, f"{control} came out supported: {stat.estimate}"
