"""The cost models of --plan: known answers on fixed rates, shared stages and programs
counted once, and cells over memory flagged."""

import pytest

from ntkbench import cost, kernel_train, models

RATES = {
    "gram": {"seconds": 1e-3, "flops": 1e6, "moved": 1e5, "device": 2e6, "compile": 5.0},
    "train": {"seconds": 1e-2, "flops": 1e8, "moved": 1e6, "device": 1e6, "forward_seconds": 1e-5,
              "forward_flops": 1e4, "parameters": 1000, "compile": 3.0},
    "eigh": {"seconds": 1e-9},
    "matfree": {"seconds": 1e-10, "compile": 1.0},
    "sgd": {"seconds": 1e-9, "compile": 2.0},
    "solve": {"seconds": 1e-10},
}


class FixedProbe(cost.Probe):
    """A device whose rates are `RATES` and whose memory is `memory` bytes, with 2 workers."""

    def __init__(self, memory=2**34):
        super().__init__()
        self._memory = memory

    @property
    def memory(self):
        return self._memory

    def workers(self):
        return 2

    def rate(self, key, measure):
        return RATES[key[0]]


MLP = models.mlp([8, 8])


def test_units_scale_by_their_cost_models():
    probe = FixedProbe()
    gram = cost.InfiniteGram(MLP, (4,), 1000).need(probe)
    assert (gram.entries, gram.flops, gram.seconds, gram.host) == (1000, 1e9, 1.0, 8000)
    training = cost.Training(MLP, (4,), n=100, steps=500, batch=10, nets=2, evals=300).need(probe)
    assert training.seconds == pytest.approx(2 * 500 * 1e-2 + 2 * 300 * 1e-5)
    assert training.flops == pytest.approx(2 * 500 * 1e8 + 2 * 300 * 1e4)
    assert cost.KernelFit(1000, 100).method == "eigh"
    assert cost.KernelFit(1000, 100).need(probe).seconds == pytest.approx(1.0)
    big = cost.KernelFit(64_000, 10_000)
    assert big.method == "matfree" == kernel_train.fit_method(64_000, 10_000, 100_000)
    assert big.need(probe).seconds == pytest.approx(1e-10 * 100_000 * 64_000**2)
    assert cost.KernelSGD(1000, 10, steps=100, batch=10, points=5).need(probe).seconds == pytest.approx(
        1e-9 * (100 * 10 * 1000 + 5 * 10 * 1000))


def test_a_stage_shared_or_a_program_compiled_before_costs_nothing_again():
    probe = FixedProbe()
    gram = (cost.InfiniteGram(MLP, (4,), 1000),)
    first = cost.Stage("a/infinite NTK", (gram, gram), key="gram-a")
    again = cost.Stage("b/infinite NTK", (gram, gram), key="gram-a")
    other = cost.Stage("c/infinite NTK", (gram,), key="gram-c")
    rows = cost.plan_rows("claim", [first, again, other], probe)
    assert rows[0].need.seconds == pytest.approx(2.0 + 5.0) and rows[0].wall_seconds == pytest.approx(3.5)
    assert rows[1].need == cost.Need() and rows[1].shared == "claim: a/infinite NTK"
    assert rows[2].need.seconds == pytest.approx(1.0)  # its program compiled for the first stage
    assert "0 (the cells of claim: a/infinite NTK)" in cost.table(rows)[1]


def test_cells_over_the_devices_memory_are_flagged():
    cell = (cost.KernelFit(64_000, 10_000),)  # stepped on the device: a 16 GB float32 Gram
    (row,) = cost.plan_rows("claim", [cost.Stage("fits", (cell, cell, (cost.Solve(10),)))], FixedProbe(memory=2**33))
    assert row.too_big == 2 and row.methods == ("matfree",)
    assert cost.table([row])[0][-1] == "2 cells"
