"""Every claim's full-scale path, end to end on a CPU, before any GPU session runs it.

The full configs (Myrtle-5 on CIFAR-5m-bin, the 5-layer CNN on SVHN-parity, the papers'
grids) with every size shrunk to seconds, on tiny CIFAR-5m and SVHN files in the real
formats. Setting and task names are kept, so the statistics the run produces can be
checked against the keys of `baselines/full/`: a full-scale run must be comparable with the
published numbers it is meant to test.
"""

import dataclasses

import numpy as np
import pytest
from scipy.io import savemat

from ntkbench import baselines, config
from ntkbench.claims import after_kernel, nn_vs_ntk_exponent, registry, width_deterioration
from ntkbench.data import images
from ntkbench.provenance import provenance
from ntkbench.report import html
from ntkbench.runner import Runner
from ntkbench.store import Store

# Shrunk sizes make degenerate statistics (constant columns, fits through few points):
# what is tested here is that the paths run and name what the baselines expect.
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """CIFAR-5m parts and SVHN files of random images (labels drawn independently)."""
    folder = tmp_path_factory.mktemp("full-data")
    rng = np.random.default_rng(0)

    def pixels(n):
        return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)

    for part in images.CIFAR5M_PARTS:
        np.savez(folder / part, X=pixels(48), Y=np.tile([5, 7, 1], 16))
    for name in images.SVHN_FILES:
        savemat(folder / name, {"X": pixels(64).transpose(1, 2, 3, 0), "y": rng.integers(1, 11, size=(64, 1))})
    return folder


# The full baselines name after-kernels by their m; the shrunk run's m_grid renames them.
RENAMED = {"after_kernel": {"K_16000": "K_8", "K_64000": "K_16"}}

CLAIMS = registry.load()


def shrunk(name: str):
    """The claim's full config with its sizes shrunk (its `shrink`); names, tasks and settings kept."""
    return CLAIMS[name].shrink(CLAIMS[name].config("full"))


class Recording(Runner):
    """A runner that records each sweep it maps: its label and how many cells."""

    def __init__(self, store):
        super().__init__(store)
        self.sweeps = []

    def map(self, cells, label):
        self.sweeps.append((label, len(cells)))
        return super().map(cells, label)


@pytest.mark.parametrize("claim", CLAIMS.values(), ids=lambda c: c.name)
def test_full_scale_path_runs_as_planned_and_meets_its_published_baseline_keys(claim, data_dir, tmp_path):
    """Also: `--plan` prices the sweeps the run maps, in its order, cell for cell."""
    runner = Recording(Store(None))
    result = claim.run(shrunk(claim.name), runner, data_dir=data_dir)
    assert runner.sweeps == [(s.label, len(s.cells)) for s in claim.stages(shrunk(claim.name))]
    assert result.scale == "full" and result.figures
    expected = set(baselines.load("full", claim.name)["statistics"])
    for old, new in RENAMED.get(claim.name, {}).items():
        expected = {name.replace(old, new) for name in expected}
    assert expected <= set(result.statistics), sorted(expected - set(result.statistics))
    checks = baselines.compare(result, baselines.load("full", claim.name))
    html.write(tmp_path, scale="full", provenance=provenance(), claims=[
        {"name": claim.name, "result": result, "error": None, "checks": checks, "tests": []}])
    assert claim.name in (tmp_path / "index.html").read_text()


def test_claims_on_cifar5m_share_one_infinite_ntk(data_dir, tmp_path):
    """after_kernel draws a larger pool than the exponent claim and width_deterioration a
    smaller one, but with the same first images and test set: both read the exponent
    claim's Gram rows instead of computing their own."""
    store = Store(tmp_path)
    exponent = tuple(c for c in shrunk("nn_vs_ntk_exponent") if c.task == "cifar5m-bin")
    nn_vs_ntk_exponent.run(exponent, Runner(store), data_dir=data_dir)
    width = tuple(dataclasses.replace(c, n=4) for c in shrunk("width_deterioration")
                  if c.protocol.task == "cifar5m-bin")
    for module, cfg in ((after_kernel, shrunk("after_kernel")), (width_deterioration, width)):
        runner = Runner(store)
        module.run(cfg, runner, data_dir=data_dir)
        assert not [cell for cell, _ in runner.cell_seconds if cell.startswith("protocol.ntk_rows")], module


def test_the_paper_preset_has_the_papers_ranges_on_the_full_paths():
    """[V]: m = 1K, 2K, ..., 1024K; kernel evolution on 64k samples; the exponent grid (ours)
    reaches the m of K_16k and K_64k. Same tasks, architectures and settings as `full`."""
    ak = config.after_kernel("paper")
    assert ak.m_grid == tuple(1000 * 2**k for k in range(11)) and ak.fixed_m == (16_000, 64_000)
    assert config.no_phase_transition("paper").protocol.n_grid[-1] == 64_000
    (exponent,) = config.nn_vs_ntk_exponent("paper")
    assert max(ak.fixed_m) <= exponent.n_grid[-1] and exponent.n_grid[0] <= min(ak.fixed_m)
    (full,) = config.nn_vs_ntk_exponent("full")
    assert (exponent.task, exponent.settings, exponent.depth) == (full.task, full.settings, full.depth)
