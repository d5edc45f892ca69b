"""[V] Sec. 4: the after-kernel K_m improves with m, but no fixed after-kernel scales like the
network, while K_n(n) tracks the network.

Pre-registered (CLAIMS.md, decision rules (a), (b), (c)). A rule whose measured verdict is
not `supported` is a strict xfail with the measured reason.
"""

import pytest

from ntkbench.claims import after_kernel as claim
from ntkbench.config import after_kernel
from ntkbench.stats import SUPPORTED

pytestmark = pytest.mark.claim(claim.CLAIM)

DID_NOT_REPRODUCE = {
    "kn_tracks_nn": "quick scale: +0.004, CI [-0.003, 0.010]; at small n every model is near "
                    "chance, and at n = 1024 K_n(n) beats the network (0.21 vs 0.25) by about "
                    "as much as ENTK-init trails it",
}


def _rules(scale):
    names = ["km_n0_decay", "kn_tracks_nn"] + [f"diff/NN-K_{m}" for m in after_kernel(scale).fixed_m]
    return [pytest.param(n, marks=[pytest.mark.xfail(strict=True, reason=DID_NOT_REPRODUCE[n])]
                         if scale == "quick" and n in DID_NOT_REPRODUCE else []) for n in names]


def pytest_generate_tests(metafunc):
    scale = metafunc.config.getoption("scale")
    if "rule" in metafunc.fixturenames:
        metafunc.parametrize("rule", _rules(scale))
    if "curve" in metafunc.fixturenames:
        fixed = [f"K_{m}" for m in after_kernel(scale).fixed_m]
        metafunc.parametrize("curve", ["NN", "ENTK", "NTK", "K_n", "K_n_fresh", *fixed])


def test_decision_rule(bench, rule):
    bench.expect(claim.CLAIM, rule, verdict=SUPPORTED)


def test_exponent_matches_baseline(bench, curve):
    bench.expect(claim.CLAIM, f"beta/{curve}", verdict=None)


def test_negative_control_is_not_supported(bench):
    """After-kernels learnt from shuffled labels must not improve with m."""
    name = "control/shuffled-labels/km_n0_decay"
    bench.expect(claim.CLAIM, name, verdict=None)
    control = bench.run(claim.CLAIM).statistics[name]
    assert control.verdict != SUPPORTED, f"shuffled-label after-kernels improved with m: {control.estimate}"
