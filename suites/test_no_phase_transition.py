"""[V] Sec. 5: the empirical NTK keeps improving through training at a steady log-log rate,
with no slow-down after an early phase, and no K^t scales like the network.

Pre-registered (CLAIMS.md): the late slope of K^t_fit is below 0; it is not significantly
flatter than the middle slope (`flattening` not contradicted); beta_NN > beta_{K^t} at each
sampled t.
"""

import pytest

from ntkbench.claims import no_phase_transition as claim
from ntkbench.stats import CONTRADICTED, SUPPORTED

pytestmark = pytest.mark.claim(claim.CLAIM)


def test_kernel_keeps_improving_late(bench):
    bench.expect(claim.CLAIM, "late_slope", verdict=SUPPORTED)


def test_no_slow_down_after_the_early_phase(bench):
    bench.expect(claim.CLAIM, "flattening", verdict=None)
    flattening = bench.run(claim.CLAIM).statistics["flattening"]
    assert flattening.verdict != CONTRADICTED, f"the late segment is flatter: {flattening.estimate}"


@pytest.mark.parametrize("time", claim.TIMES)
def test_network_scales_better_than_its_kernel_at_t(bench, time):
    bench.expect(claim.CLAIM, f"diff/NN-K^{time}", verdict=SUPPORTED)


@pytest.mark.parametrize("statistic", ["breakpoint_step", "slope_before", "slope_after"])
def test_early_regime_matches_baseline(bench, statistic):
    bench.expect(claim.CLAIM, statistic, verdict=None)


def test_negative_control_is_not_supported(bench):
    """A network trained on shuffled labels: its kernel must not keep improving on the task."""
    name = "control/shuffled-labels/late_slope"
    bench.expect(claim.CLAIM, name, verdict=None)
    control = bench.run(claim.CLAIM).statistics[name]
    assert control.verdict != SUPPORTED, f"the shuffled-label kernel kept improving: {control.estimate}"
