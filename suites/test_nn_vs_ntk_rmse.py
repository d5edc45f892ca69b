"""[I]: a trained wide ReLU network is not kernel regression with its NTK (test RMSE).

Every (network, NTK family) pair at depths 1 and 2 must come out `supported` (the network
worse); the negative control (a network against an independent copy of itself) must not;
every table row must match its baseline. [I]'s three further findings (depth helps the
network and not its NTKs; the GP kernels are very close to NTKB / NTKJ; the Laplacian kernel
is closer to the network than any NTK) are decisions with a negative control each.
"""

import pytest

from ntkbench.claims import nn_vs_ntk_rmse as claim
from ntkbench.pytest_plugin import parametrize

pytestmark = pytest.mark.claim(claim.CLAIM)

FINDINGS = tuple(f"depth/NN-{family}" for family in claim.FAMILIES) + tuple(
    f"gp_close/GP{depth}-{family}{depth}" for depth in (1, 2) for family in ("NTKJ", "NTKB")) + (
    "laplacian_closer/1", "laplacian_closer/2")
FINDING_CONTROLS = (f"control/depth/NN1-{claim.CONTROL}", "control/gp_close/GP1-NTKA1", "control/laplacian_closer/GP1")
WHY_NOT_REPRODUCED = {
    f"depth/NN-{family}": "the quick networks (widths 1024 / 256, 600 epochs) gain nothing from the second "
                          "layer: NN2's RMSE is no lower than NN1's"
    for family in ("NTKA", "NTKJ", "NTKB", "NTK-native")
}


def pytest_generate_tests(metafunc):
    parametrize(metafunc, WHY_NOT_REPRODUCED, finding=FINDINGS, finding_control=FINDING_CONTROLS)


@pytest.mark.parametrize("network,kernel", claim.pairs(), ids=[f"{n}-vs-{k}" for n, k in claim.pairs()])
def test_network_worse_than_its_ntk(bench, network, kernel):
    bench.expect(claim.CLAIM, f"diff/{network}-{kernel}")


def test_negative_control_holds(bench):
    bench.expect_control(claim.CLAIM, f"diff/NN1-{claim.CONTROL}")


def test_further_finding(bench, finding):
    bench.expect(claim.CLAIM, finding)


def test_further_finding_control_holds(bench, finding_control):
    bench.expect_control(claim.CLAIM, finding_control)


def test_statistics_match_baseline(bench):
    bench.check_baseline(claim.CLAIM)
