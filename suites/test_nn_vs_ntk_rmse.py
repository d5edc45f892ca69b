"""[I]: a trained wide ReLU network is not kernel regression with its NTK (test RMSE).

Every (network, NTK family) pair at depths 1 and 2 must come out `supported` (the network
worse), every table row must match its baseline, and the negative control (a network
against an independent copy of itself) must not come out `supported`.
"""

import pytest

from ntkbench.claims import nn_vs_ntk_rmse as claim
from ntkbench.stats import SUPPORTED

pytestmark = pytest.mark.claim(claim.CLAIM)


@pytest.mark.parametrize("network,kernel", claim.pairs(), ids=[f"{n}-vs-{k}" for n, k in claim.pairs()])
def test_network_worse_than_its_ntk(bench, network, kernel):
    bench.expect(claim.CLAIM, f"diff/{network}-{kernel}", verdict=SUPPORTED)


@pytest.mark.parametrize("row", claim.NN_ROWS + claim.KERNEL_ROWS)
def test_table_row_matches_baseline(bench, row):
    bench.expect(claim.CLAIM, f"rmse/{row}", verdict=None)


def test_negative_control_is_not_supported(bench):
    result = bench.run(claim.CLAIM)
    control = result.statistics[f"diff/NN1-{claim.CONTROL}"]
    assert control.verdict != SUPPORTED, (
        f"a network against an independent copy of itself came out supported "
        f"({control.estimate}): the comparison is broken")
