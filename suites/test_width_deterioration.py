"""[V] Fig. 2b, 2c: with width, ENTK-init falls toward the infinite NTK, while the network
first improves and then deteriorates toward it.

Pre-registered (CLAIMS.md, decision rules (a) and (b)); the quick sweep starts at width 2
because the network's optimum on the XOR-type task lies below 16 (CLAIMS.md, probe 3).
"""

import pytest

from ntkbench.claims import width_deterioration as claim
from ntkbench.config import width_deterioration
from ntkbench.stats import SUPPORTED

pytestmark = pytest.mark.claim(claim.CLAIM)
RULES = ("entk_trend", "entk_approach", "nn_interior_min", "nn_approach")


def pytest_generate_tests(metafunc):
    if "task" in metafunc.fixturenames:
        metafunc.parametrize("task", [c.protocol.task for c in width_deterioration(metafunc.config.getoption("scale"))])


@pytest.mark.parametrize("rule", RULES)
def test_decision_rule(bench, rule, task):
    bench.expect(claim.CLAIM, f"{rule}/{task}", verdict=SUPPORTED)


def test_negative_control_is_not_supported(bench, task):
    """The linearised network (ENTK-init) must show no interior minimum."""
    bench.expect(claim.CLAIM, f"control/{task}/ENTK-interior-min", verdict=None)
    control = bench.run(claim.CLAIM).statistics[f"control/{task}/ENTK-interior-min"]
    assert control.verdict != SUPPORTED, f"the linearised network has an interior minimum: {control.estimate}"
