"""[I]: a trained wide ReLU network is not kernel regression with its NTK (test RMSE).

Every (network, NTK family) pair at depths 1 and 2 must come out `supported` (the network
worse); the negative control (a network against an independent copy of itself) must not;
every table row must match its baseline.
"""

import pytest

from ntkbench.claims import nn_vs_ntk_rmse as claim

pytestmark = pytest.mark.claim(claim.CLAIM)


@pytest.mark.parametrize("network,kernel", claim.pairs(), ids=[f"{n}-vs-{k}" for n, k in claim.pairs()])
def test_network_worse_than_its_ntk(bench, network, kernel):
    bench.expect(claim.CLAIM, f"diff/{network}-{kernel}")


def test_negative_control_holds(bench):
    bench.expect_control(claim.CLAIM, f"diff/NN1-{claim.CONTROL}")


def test_statistics_match_baseline(bench):
    bench.check_baseline(claim.CLAIM)
