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


class _Config:
    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RmseConfig(_Config):
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
class ExponentConfig(_Config):
    """NN vs NTK data-scaling exponents [V Sec. 3]: one task, its settings, the shared protocol.

    The learning rate is `lr_fraction` of the critical rate of the same SGD on the infinite
    NTK, measured (`claims.protocol.critical_lr`), so that every model trains below the
    kernels' critical lr, as in the paper; each setting scales it by `lr_factor`.
    `trials_per_cell` only groups work: the networks of a cell's trials train together, one
    vmapped program (a GPU trains several small networks in the time of one; on CPU cores
    trials spread over the pool instead); the results do not depend on it.
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
    trials_per_cell: int = 1


EXPONENT_ABLATIONS = (
    ExponentSetting("base"),
    ExponentSetting("lr-x3", lr_factor=3.0),
    ExponentSetting("lr-div10", lr_factor=0.1),
    ExponentSetting("full-batch-gd", full_batch=True),
    ExponentSetting("no-momentum", momentum=0.0),
    ExponentSetting("no-early-stopping", early_stopping=False),
)


QUICK_MLP = dict(n_test=1000, width=64, depth=2, trials=8, steps=2000, batch_size=64,
                 n_grid=(64, 128, 256, 512, 1024))
# 8 trials: with 4, the calibrated rules had 48% power for the width claim's dip and 62% for
# K_n(n) tracking the network at the effects of [V] Fig. 2b, 4a (tests/test_calibration.py).
FULL_MYRTLE = dict(n_grid=(500, 1000, 2000, 4000, 8000), n_test=10_000, width=64, depth=5, trials=8,
                   steps=20_000, batch_size=200, trials_per_cell=4)
BASE = (ExponentSetting("base"),)


def nn_vs_ntk_exponent(scale: str) -> tuple[ExponentConfig, ...]:
    """Quick: the XOR-type task with every ablation (theory: features beat kernels there),
    digits parity in the base setting (a natural task; the verdict is whatever the data say)."""
    if check_scale(scale) == "full":
        return (ExponentConfig(
            scale, "cifar5m-bin", EXPONENT_ABLATIONS + (ExponentSetting("width-16", width=16),
                                                        ExponentSetting("width-1024", width=1024)),
            **FULL_MYRTLE),)
    return (
        ExponentConfig(scale, "xor", EXPONENT_ABLATIONS + (ExponentSetting("width-16", width=16),
                                                           ExponentSetting("width-256", width=256)),
                       **QUICK_MLP),
        ExponentConfig(scale, "digits-parity", BASE, **{**QUICK_MLP, "n_test": 773}),
    )


@dataclasses.dataclass(frozen=True)
class WidthConfig(_Config):
    """Test error vs width at one training-set size n [V Fig. 2b, 2c].

    `protocol` is the exponent claim's base protocol for the task (lr rule, batch, steps,
    trials); its critical lr is shared with that claim.
    """

    scale: str
    protocol: ExponentConfig
    n: int
    widths: tuple[int, ...]


def width_deterioration(scale: str) -> tuple[WidthConfig, ...]:
    """Quick: the XOR-type task at n = 1024 from width 2 (the NN's minimum sits below 16
    there, CLAIMS.md probe 3) to 256."""
    if check_scale(scale) == "full":
        svhn = ExponentConfig(scale, "svhn-parity", BASE, n_grid=(1000,), n_test=10_000, width=64,
                              depth=5, trials=8, steps=20_000, batch_size=200, trials_per_cell=4)
        return (WidthConfig(scale, ExponentConfig(scale, "cifar5m-bin", BASE, **FULL_MYRTLE), n=4000,
                            widths=(16, 32, 64, 128, 256, 512, 1024)),
                WidthConfig(scale, svhn, n=1000, widths=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096)))
    return (WidthConfig(scale, ExponentConfig(scale, "xor", BASE, **QUICK_MLP), n=1024,
                        widths=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)),)


@dataclasses.dataclass(frozen=True)
class AfterKernelConfig(_Config):
    """After-kernels K_m (the ENTK of the network trained on m samples) [V Sec. 4, Fig. 4].

    The networks are trained by the exponent claim's base `protocol`; K_m(n0) is read for
    every m in `m_grid`, data-scaling curves of K_m over the protocol's n-grid for each m in
    `fixed_m`, and K_n(n), K^F_n(n) (fresh samples) for every n of the grid.
    """

    scale: str
    protocol: ExponentConfig
    m_grid: tuple[int, ...]
    n0: int
    fixed_m: tuple[int, ...]


def after_kernel(scale: str) -> AfterKernelConfig:
    if check_scale(scale) == "full":
        return AfterKernelConfig(scale, ExponentConfig(scale, "cifar5m-bin", BASE, **FULL_MYRTLE),
                                 m_grid=(500, 2000, 8000, 16_000, 64_000), n0=500,
                                 fixed_m=(16_000, 64_000))
    return AfterKernelConfig(scale, ExponentConfig(scale, "xor", BASE, **QUICK_MLP),
                             m_grid=(128, 256, 512, 1024, 2048, 4096), n0=128, fixed_m=(1024, 4096))


@dataclasses.dataclass(frozen=True)
class PhaseConfig(_Config):
    """The ENTK K^t along one training run on the protocol's largest n [V Sec. 5, Fig. 5].

    `snapshots` log-spaced steps up to the protocol's steps; the analysis runs to the first
    snapshot where the trial-mean training error is below `train_error_target`.
    """

    scale: str
    protocol: ExponentConfig
    snapshots: int = 30
    train_error_target: float = 0.05


def no_phase_transition(scale: str) -> PhaseConfig:
    """Full: 8000 training samples, not the paper's 64k: the Myrtle ENTK Gram of 64k + 10k
    points does not fit one GPU."""
    if check_scale(scale) == "full":
        return PhaseConfig(scale, ExponentConfig(scale, "cifar5m-bin", BASE, **FULL_MYRTLE))
    return PhaseConfig(scale, ExponentConfig(scale, "xor", BASE, **QUICK_MLP))


@dataclasses.dataclass(frozen=True)
class MovementConfig:
    """(a) How far the ENTK moves in training, on a grid of depths x widths.

    `n` training points, `steps` SGD steps; `kernel_regime_change` is the relative change
    below which a network counts as in the kernel regime; the lazy control trains the
    deepest, widest network at lr x `lazy_lr_factor`.
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    n: int
    steps: int
    kernel_regime_change: float
    lazy_lr_factor: float


@dataclasses.dataclass(frozen=True)
class OptimisationConfig:
    """(b) Steps to the training-loss target `loss_target`: damped Gauss-Newton (damping
    relative to lambda_max(K)) and GD, capped at `max_gn_steps` / `max_gd_steps`, on
    networks of one `depth`, `n` points; the lazy control scales the network by `lazy_scale`.
    """

    depth: int
    widths: tuple[int, ...]
    n: int
    loss_target: float
    damping: float
    lazy_scale: float
    max_gn_steps: int
    max_gd_steps: int


@dataclasses.dataclass(frozen=True)
class ForgettingConfig:
    """(c) Two tasks of `n` points in sequence, `steps` per task: (short, to convergence)."""

    widths: tuple[int, ...]
    n: int
    steps: tuple[int, int]


@dataclasses.dataclass(frozen=True)
class UncertaintyConfig:
    """(d) Regression on `n` points with noise standard deviation `noise`, `steps` SGD steps."""

    widths: tuple[int, ...]
    n: int
    steps: int
    noise: float


@dataclasses.dataclass(frozen=True)
class PracticalConfig(_Config):
    """The kernel regime's benefits vs width and depth [W]: the settings the four
    experiments share, and each experiment's own.

    ReLU MLPs (W_std sqrt 2, b_std 0.1) on teacher tasks y = sign(w . x) (d: tanh(2 w . x)
    plus noise), x ~ N(0, I_dim), trained by SGD with momentum 0.9 at lr = `lr_scale` /
    lambda_max(K0 / n) of each network's own ENTK at init.
    """

    scale: str
    seeds: int
    dim: int
    n_test: int
    lr_scale: float
    batch_size: int
    movement: MovementConfig
    optimisation: OptimisationConfig
    forgetting: ForgettingConfig
    uncertainty: UncertaintyConfig

    def shared(self) -> dict:
        """The settings every experiment's cells compute from."""
        return dict(seeds=self.seeds, dim=self.dim, n_test=self.n_test, lr_scale=self.lr_scale,
                    batch_size=self.batch_size)


def practical_limits(scale: str) -> PracticalConfig:
    """Quick: widths up to 512 (MLPs of 16 layers of 512 take 17 s per run on one core);
    full: up to 4096 and depth 32, a GPU job."""
    if check_scale(scale) == "full":
        seeds, depths, widths = 8, (2, 4, 8, 16, 32), (16, 64, 256, 1024, 4096)
    else:
        seeds, depths, widths = 5, (2, 4, 8, 16), (16, 64, 256, 512)
    return PracticalConfig(
        scale, seeds=seeds, dim=20, n_test=1000, lr_scale=0.3, batch_size=32,
        movement=MovementConfig(depths, widths, n=256, steps=500, kernel_regime_change=0.1,
                                lazy_lr_factor=0.01),
        optimisation=OptimisationConfig(depth=4, widths=widths, n=64, loss_target=1e-3, damping=1e-4,
                                        lazy_scale=100.0, max_gn_steps=50, max_gd_steps=2000),
        forgetting=ForgettingConfig(widths, n=256, steps=(100, 1000)),
        uncertainty=UncertaintyConfig(widths, n=128, steps=1000, noise=0.1))
