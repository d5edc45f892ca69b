"""[V] Fig. 2b, 2c: with width, ENTK-init falls toward the infinite NTK from above, while the
network first improves and then deteriorates toward it from below.

Pre-registered in the claim module's docstring; the quick sweep starts at width 2 because
the network's optimum on the XOR-type task lies below 16 (docs/probes.md, probe 3); MNIST-1D
parity's 1-D Myrtle-5 sweep stops at width 64 (CPU time). Decisions
whose measured verdict is not `supported` are strict xfails with the measured reason.
"""

import pytest

from ntkbench.claims import width_deterioration as claim
from ntkbench.pytest_plugin import claim_config, parametrize

pytestmark = pytest.mark.claim(claim.CLAIM)
RULES = ("entk_trend", "entk_approach", "nn_interior_min", "nn_below_ntk")
DID_NOT_REPRODUCE = {
    "nn_interior_min/xor": "quick scale: contradicted, -0.037, CI [-0.070, -0.004]: the networks of width 2 and 4 "
                           "did not fit their training set (training error 0.40, 0.21) and are left out; from "
                           "width 8 on the network only deteriorates toward the NTK (its best kept width is the "
                           "narrowest)",
    "nn_interior_min/mnist1d-parity": "quick scale: inconclusive, 0.0008, CI [-0.010, 0.012]: widths 2 and 4 did "
                                      "not fit their training set (0.63, 0.07) and are left out; from width 8 to "
                                      "64 the network's error falls and then stays flat (0.064, 0.055, 0.051, "
                                      "0.052), far below the NTK's 0.107: no deterioration within the sweep",
    "nn_below_ntk/mnist1d-parity": "quick scale: inconclusive, 0.0008, CI [-0.010, 0.012]: the network is below "
                                   "the NTK (0.107) at every kept width, but its widest (64) is as good as any "
                                   "interior width, so no dip below both shows",
}


def pytest_generate_tests(metafunc):
    tasks = [c.protocol.task for c in claim_config(metafunc.config, claim.CLAIM)]
    parametrize(metafunc, DID_NOT_REPRODUCE, decision=[f"{r}/{t}" for t in tasks for r in RULES],
                control=[f"control/{t}/ENTK-interior-min" for t in tasks])


def test_decision_rule(bench, decision):
    bench.expect(claim.CLAIM, decision)


def test_negative_control_holds(bench, control):
    """The linearised network (ENTK-init) must show no interior minimum."""
    bench.expect_control(claim.CLAIM, control)


def test_statistics_match_baseline(bench):
    bench.check_baseline(claim.CLAIM)
