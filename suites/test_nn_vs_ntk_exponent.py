"""[V] Claim 3.1: the network's data-scaling exponent beats that of its NTK and ENTK-init.

Pre-registered (before the first run): on the XOR-type task (and CIFAR-5m-bin at full
scale) the claim should hold in every setting, since a network can learn the label's
2-dimensional subspace and a rotation-invariant kernel cannot; on MNIST-1D parity, with a
1-D Myrtle-5 (a CNN with global pooling, the network [V]'s claim is about), in the base
setting. Digits parity's direction was not pre-registered, so its differences are
measurements, checked by the baseline test.
Decisions that the stored quick baseline records as not `supported` are strict xfails with
its numbers and the explanation below: a verdict that flips XPASSes and fails the run.
"""

import pytest

from ntkbench.claims import nn_vs_ntk_exponent as claim
from ntkbench.pytest_plugin import claim_config, parametrize

pytestmark = pytest.mark.claim(claim.CLAIM)

# The XOR grid reaches n = 4096 and the fit range rule (scaling.fit_range) keeps the points past
# chance where the networks fit their data; since issue 27 each bootstrap resample chooses that
# range again, and where the choice is on a knife edge no interval is formed.
_KNIFE_EDGE = ("width 16: the fit range n = 512..4096 lies on a knife edge (its margin 0.38 standard errors), "
               "and in more than a tenth of the bootstrap resamples, which choose the range again, fewer than 3 "
               "points remain, so no interval is formed (point estimate {point}; supported with the range fixed)")
WHY_NOT_REPRODUCED = {
    "diff/xor/width-16/NN-NTK": _KNIFE_EDGE.format(point=1.07),
    "diff/xor/width-16/NN-ENTK": _KNIFE_EDGE.format(point=1.25),
}


def _labels(cfgs, tasks=None):
    return [f"{c.task}/{s.name}" for c in cfgs if tasks is None or c.task in tasks for s in c.settings]


def pytest_generate_tests(metafunc):
    cfgs = claim_config(metafunc.config, claim.CLAIM)
    decisions = [f"diff/{label}/NN-{k}" for label in _labels(cfgs, claim.PRE_REGISTERED) for k in claim.KERNELS]
    parametrize(metafunc, WHY_NOT_REPRODUCED, decision=decisions,
                control=[f"control/{label}/ENTK-NTK" for label in _labels(cfgs)])


def test_network_exponent_beats_kernel(bench, decision):
    bench.expect(claim.CLAIM, decision)


def test_negative_control_holds(bench, control):
    """The network replaced by its linearisation must not beat the kernel's exponent."""
    bench.expect_control(claim.CLAIM, control)


def test_statistics_match_baseline(bench):
    bench.check_baseline(claim.CLAIM)
