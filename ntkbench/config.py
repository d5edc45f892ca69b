"""Experiment configs: one function per claim, `cfg(scale) -> frozen dataclass`.

`full` reproduces the paper's protocol; `quick` is the same experiment made small enough
for a laptop CPU, and every difference from the paper is a field here that the report shows.
"""

from __future__ import annotations

import dataclasses

SCALES = ("quick", "full")


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return scale


@dataclasses.dataclass(frozen=True)
class RmseConfig:
    """NN vs NTK regression RMSE on data drawn from the NTKB1 Gaussian process [I]."""

    scale: str
    trials: int
    widths: tuple[int, int]
    epochs: tuple[int, int]
    lr: float = 0.002
    batch_size: int = 8
    data_seed: int = 11342
    init_seed: int = 0
    control_seed: int = 1

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def nn_vs_ntk_rmse(scale: str) -> RmseConfig:
    if check_scale(scale) == "full":
        return RmseConfig(scale, trials=50, widths=(10_000, 10_000), epochs=(3000, 6000))
    return RmseConfig(scale, trials=10, widths=(1024, 256), epochs=(600, 600))


@dataclasses.dataclass(frozen=True)
class ExponentSetting:
    """One training setting of the exponent claim (the paper's base setting or an ablation)."""

    name: str
    lr_factor: float = 1.0
    momentum: float = 0.9
    full_batch: bool = False
    early_stopping: bool = True
    width: int | None = None


@dataclasses.dataclass(frozen=True)
class ExponentConfig:
    """NN vs NTK data-scaling exponents [V Sec. 3]: one task, its settings, the shared protocol.

    The learning rate is `lr_fraction` of the critical rate of the same SGD on the infinite
    NTK, measured (`claims.nn_vs_ntk_exponent.critical_lr`), so that every model trains
    below the kernels' critical lr, as in the paper; each setting scales it by `lr_factor`.
    """

    scale: str
    task: str
    settings: tuple[ExponentSetting, ...]
    n_grid: tuple[int, ...]
    n_test: int
    width: int
    depth: int
    trials: int
    steps: int
    batch_size: int
    lr_fraction: float = 0.25
    eval_points: int = 12
    seed: int = 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


EXPONENT_ABLATIONS = (
    ExponentSetting("base"),
    ExponentSetting("lr-x3", lr_factor=3.0),
    ExponentSetting("lr-div10", lr_factor=0.1),
    ExponentSetting("full-batch-gd", full_batch=True),
    ExponentSetting("no-momentum", momentum=0.0),
    ExponentSetting("no-early-stopping", early_stopping=False),
)


def nn_vs_ntk_exponent(scale: str) -> tuple[ExponentConfig, ...]:
    """Quick: the XOR-type task with every ablation (theory: features beat kernels there),
    digits parity in the base setting (a natural task; the verdict is whatever the data say)."""
    if check_scale(scale) == "full":
        return (ExponentConfig(
            scale, "cifar5m-bin", EXPONENT_ABLATIONS + (ExponentSetting("width-16", width=16),
                                                        ExponentSetting("width-1024", width=1024)),
            n_grid=(500, 1000, 2000, 4000, 8000), n_test=10_000, width=64, depth=5, trials=4,
            steps=20_000, batch_size=200),)
    mlp = dict(n_test=1000, width=64, depth=2, trials=8, steps=2000, batch_size=64,
               n_grid=(64, 128, 256, 512, 1024))
    return (
        ExponentConfig(scale, "xor", EXPONENT_ABLATIONS + (ExponentSetting("width-16", width=16),
                                                           ExponentSetting("width-256", width=256)),
                       **mlp),
        ExponentConfig(scale, "digits-parity", (ExponentSetting("base"),),
                       **{**mlp, "n_test": 773}),
    )
