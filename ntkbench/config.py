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
