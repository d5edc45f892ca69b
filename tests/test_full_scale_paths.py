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
from ntkbench.claims import (after_kernel, nn_vs_ntk_exponent, nn_vs_ntk_rmse, no_phase_transition,
                             practical_limits, width_deterioration)
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


def tiny(p: config.ExponentConfig, **sizes) -> config.ExponentConfig:
    """`p` with every size shrunk and the widths of its width settings cut to 4."""
    settings = tuple(dataclasses.replace(s, width=4) if s.width else s for s in p.settings)
    return dataclasses.replace(p, settings=settings, **{
        **dict(n_grid=(4, 8), n_test=4, width=2, trials=2, steps=16, batch_size=4, eval_points=6), **sizes})


def shrunk(claim: str):
    """The claim's full config with its sizes shrunk; names, tasks and settings kept."""
    cfg = getattr(config, claim)("full")
    if claim == "nn_vs_ntk_exponent":
        return tuple(tiny(c) for c in cfg)
    if claim == "width_deterioration":
        return tuple(dataclasses.replace(c, protocol=tiny(c.protocol), n=8, widths=(1, 2, 4)) for c in cfg)
    if claim == "after_kernel":
        return dataclasses.replace(cfg, protocol=tiny(cfg.protocol), m_grid=(4, 8, 16), n0=4, fixed_m=(8, 16))
    if claim == "no_phase_transition":
        return dataclasses.replace(cfg, protocol=tiny(cfg.protocol, steps=64), snapshots=12)
    if claim == "practical_limits":
        return dataclasses.replace(
            cfg, seeds=2, n_test=16,
            movement=dataclasses.replace(cfg.movement, depths=(2, 4), widths=(4, 8), n=16, steps=8),
            optimisation=dataclasses.replace(cfg.optimisation, widths=(4, 8), n=8, max_gn_steps=3, max_gd_steps=8),
            forgetting=dataclasses.replace(cfg.forgetting, widths=(4, 8), n=16, steps=(4, 8)),
            uncertainty=dataclasses.replace(cfg.uncertainty, widths=(4, 8), n=16, steps=8))
    return dataclasses.replace(cfg, trials=2, widths=(8, 8), epochs=(2, 2))


# The full baselines name after-kernels by their m; the shrunk run's m_grid renames them.
RENAMED = {"after_kernel": {"K_16000": "K_8", "K_64000": "K_16"}}

MODULES = (nn_vs_ntk_exponent, width_deterioration, after_kernel, no_phase_transition, practical_limits,
           nn_vs_ntk_rmse)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.CLAIM)
def test_full_scale_path_runs_and_meets_its_published_baseline_keys(module, data_dir, tmp_path):
    result = module.run(shrunk(module.CLAIM), Runner(Store(None)), data_dir=data_dir)
    assert result.scale == "full" and result.figures
    expected = set(baselines.load("full", module.CLAIM)["statistics"])
    for old, new in RENAMED.get(module.CLAIM, {}).items():
        expected = {name.replace(old, new) for name in expected}
    assert expected <= set(result.statistics), sorted(expected - set(result.statistics))
    checks = baselines.compare(result, baselines.load("full", module.CLAIM))
    html.write(tmp_path, scale="full", provenance=provenance(), claims=[
        {"name": module.CLAIM, "result": result, "error": None, "checks": checks, "tests": []}])
    assert module.CLAIM in (tmp_path / "index.html").read_text()


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
