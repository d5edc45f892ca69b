"""[V] Claim 3.1: the network's data-scaling exponent beats that of its NTK and ENTK-init.

Pre-registered (before the first run): on the XOR-type task the claim should hold in every
setting, since a network can learn the label's 2-dimensional subspace and a rotation-
invariant kernel cannot; on digits parity the verdict is whatever the data give, and the
quick baseline pins it. Settings where the measured verdict is not `supported` are strict
xfails below, with the measured reason: recorded, not hidden, and flagged if they change.
"""

import pytest

from ntkbench.claims import nn_vs_ntk_exponent as claim
from ntkbench.config import nn_vs_ntk_exponent
from ntkbench.stats import SUPPORTED

pytestmark = pytest.mark.claim(claim.CLAIM)

DID_NOT_REPRODUCE = {
    ("xor/base", "NTK"): "quick scale: beta_NN - beta_NTK = +0.026, CI [-0.001, 0.051] straddles 0",
    ("xor/lr-div10", "NTK"): "quick scale: beta_NN - beta_NTK CI straddles 0 (lr / 10 is closer to lazy)",
    ("xor/full-batch-gd", "NTK"): "quick scale: beta_NN - beta_NTK CI straddles 0",
    ("xor/no-momentum", "NTK"): "quick scale: beta_NN - beta_NTK CI straddles 0",
    ("xor/no-early-stopping", "NTK"): "quick scale: beta_NN - beta_NTK CI straddles 0",
    ("xor/width-256", "NTK"): "quick scale: contradicted, the width-256 network is near-lazy and "
                              "its random initial function costs it (CLAIMS.md, probes 1-3)",
    ("xor/width-256", "ENTK"): "quick scale: beta_NN - beta_ENTK CI straddles 0 (near-lazy)",
}


def _cases(scale):
    cases = []
    for cfg in nn_vs_ntk_exponent(scale):
        for setting in cfg.settings:
            label = f"{cfg.task}/{setting.name}"
            for kernel in claim.KERNELS:
                reason = DID_NOT_REPRODUCE.get((label, kernel)) if scale == "quick" else None
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                expected = SUPPORTED if cfg.task != "digits-parity" else None
                cases.append(pytest.param(label, kernel, expected, marks=marks, id=f"{label}-NN-vs-{kernel}"))
    return cases


def pytest_generate_tests(metafunc):
    scale = metafunc.config.getoption("scale")
    if "kernel" in metafunc.fixturenames:
        metafunc.parametrize("label,kernel,expected", _cases(scale))
    elif "label" in metafunc.fixturenames:
        metafunc.parametrize("label", [f"{c.task}/{s.name}" for c in nn_vs_ntk_exponent(scale)
                                       for s in c.settings])


def test_network_exponent_beats_kernel(bench, label, kernel, expected):
    bench.expect(claim.CLAIM, f"diff/{label}/NN-{kernel}", verdict=expected)


def test_negative_control_is_not_supported(bench, label):
    """The network replaced by its linearisation must not beat the kernel's exponent."""
    bench.expect(claim.CLAIM, f"control/{label}/ENTK-NTK", verdict=None)
    control = bench.run(claim.CLAIM).statistics[f"control/{label}/ENTK-NTK"]
    assert control.verdict != SUPPORTED, f"the linearised network came out supported: {control.estimate}"
