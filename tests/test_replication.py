"""Replication: do the intervals over trials cover what a replication on other data varies?

Each trial of [V]'s claims draws its own training pool and test set (issue 27), so an
interval over trials should cover a rerun with another root seed: new pools, test sets,
initialisations and shuffles. Each check runs a claim unchanged under `SEEDS` root seeds and
compares the spread of a statistic between seeds with the standard errors its intervals
state: asserted, the 95% intervals cover the mean over seeds in at least 85% of seeds, and the
between-seed standard deviation is at most 1.5 times the stated standard error (an interval
too narrow for a replication); a ratio below 0.67 (an interval wider than a replication needs,
which costs power, measured by the calibration suite) is printed, not failed. (On one shared
pool, the XOR base setting's NN - NTK moved between four pools with 2.5 times the standard
error its intervals stated; with a pool per trial but the fit range chosen once, 2.8 times,
from the seeds whose range started at n = 512 instead of 256.)

The exponent check is the quick preset's XOR base setting itself; the width and after-kernel
checks run the quick XOR protocol on a smaller sweep (n = 256; m <= 512), the statistics being
of the same kind, at an eighth of the preset's cost. The seeds share one store, so the
protocol's Grams and critical lr are computed once per seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ntkbench import config, stats
from ntkbench.claims import after_kernel, nn_vs_ntk_exponent, width_deterioration
from ntkbench.runner import Runner
from ntkbench.store import Store

SEEDS = 8
LARGEST_RATIO = 1.5
COVERAGE = 0.85


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return Runner(Store(tmp_path_factory.mktemp("replication")), "process")


def _quick_xor(**sizes) -> config.ExponentConfig:
    return dataclasses.replace(config.nn_vs_ntk_exponent("quick")[0], settings=config.BASE, **sizes)


def _check(results: list, name: str) -> None:
    """The spread of `name` between the seeds' `results` against its intervals' standard errors."""
    estimates = [r.statistics[name].estimate for r in results]
    values = np.array([e.value for e in estimates])
    trials = _quick_xor().trials
    se = np.array([(e.high - e.low) / 2 for e in estimates]) / stats.t_interval(0, 1, trials).high
    ratio = values.std(ddof=1) / np.sqrt(np.mean(se**2))
    covered = np.mean([e.low <= values.mean() <= e.high for e in estimates])
    print(f"\n{name}: values {np.round(values, 4).tolist()}, stated SE {np.round(se, 4).tolist()}; "
          f"between-seed sd / stated SE {ratio:.2f}, intervals covering the mean over seeds {covered:.0%}")
    assert ratio <= LARGEST_RATIO, (name, ratio)
    assert covered >= COVERAGE, (name, covered)


def test_the_exponent_claims_base_setting_replicates(runner):
    results = [nn_vs_ntk_exponent.run((_quick_xor(seed=s),), runner) for s in range(SEEDS)]
    for name in ("diff/xor/base/NN-NTK", "beta/xor/base/NTK"):
        _check(results, name)


def test_a_width_statistic_replicates(runner):
    results = [width_deterioration.run((config.WidthConfig("quick", _quick_xor(seed=s), n=256,
                                                           widths=(8, 32, 128, 512)),), runner)
               for s in range(SEEDS)]
    _check(results, "entk_trend/xor")


def test_an_after_kernel_statistic_replicates(runner):
    results = [after_kernel.run(config.AfterKernelConfig("quick", _quick_xor(seed=s, n_grid=(64, 128, 256, 512)),
                                                         m_grid=(128, 256, 512), n0=64, fixed_m=(512,)), runner)
               for s in range(SEEDS)]
    _check(results, "km_n0_decay")
