"""Experiment configs: one function per claim, `cfg(scale) -> frozen dataclass`.

Three presets of one experiment, each named for what it is:
  quick  the experiment made small enough for a laptop CPU (minutes): other data and
         architectures where the papers' cannot run there.
  full   the papers' data and architectures at what one GPU does in about a day: [V]'s
         ranges cut (n up to 8000, m up to 64k, kernel evolution on 8000 samples).
  paper  the papers' own ranges, for a cluster (`--executor=dask`): m = 1K..1024K and kernel
         evolution on 64k samples as [V] states; the data-scaling n, which [V]'s text does
         not give, 1K..64K (see `PAPER_MYRTLE`).
Every claim's protocol section lists its differences from the paper at each preset; the
README gives each preset's cost.
"""

from __future__ import annotations

import dataclasses

SCALES = ("quick", "full", "paper")
GPU_SCALES = ("full", "paper")  # the papers' data and architectures


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
    """Full and paper: [I]'s protocol exactly (50 trials, width 10,000, 3000 / 6000 epochs)."""
    if check_scale(scale) in GPU_SCALES:
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

    def for_kernels(self) -> "ExponentSetting":
        """The setting whose training the kernels share: this one with the base optimiser
        ([V]: the lr, batch and momentum ablations change only the network's training)."""
        return dataclasses.replace(self, name=f"{self.name} kernels", lr_factor=1.0, momentum=0.9,
                                   full_batch=False)


@dataclasses.dataclass(frozen=True)
class LayerConfig:
    """One layer of a researcher's architecture: `kind` names a layer of `ntkbench.models`
    (Dense, Conv, Relu, ...); a layer with a width and `width` None takes the protocol's
    width (which width settings and sweeps vary)."""

    kind: str
    width: int | None = None
    W_std: float = 1.0
    b_std: float = 1.0


@dataclasses.dataclass(frozen=True)
class NpzData:
    """A researcher's binary dataset: arrays `X` (n, ...) and `y` (n,) of two classes in the
    .npz file `path` (sha256 `digest`); the test set is the file `test_file` (sha256
    `test_digest`) or a `test_fraction` of `path` drawn with `split_seed`."""

    path: str
    digest: str
    test_fraction: float | None = None
    test_file: str | None = None
    test_digest: str | None = None
    split_seed: int = 0


@dataclasses.dataclass(frozen=True)
class ExponentConfig(_Config):
    """NN vs NTK data-scaling exponents [V Sec. 3]: one task, its settings, the shared protocol.

    The learning rate is `lr_fraction` of the critical rate of the same SGD on the infinite
    NTK, measured (`claims.protocol.critical_lr`), so that every model trains below the
    kernels' critical lr, as in the paper; each setting scales it by `lr_factor`.
    `trials_per_cell` only groups work: the networks of a cell's trials train together, one
    vmapped program (a GPU trains several small networks in the time of one; on CPU cores
    trials spread over the pool instead); the results do not depend on it.
    `architecture` (a factory's name, mlp, myrtle, myrtle1d or cnn5, or layers) and `data` describe a
    researcher's experiment (`ntkbench.experiment`); None: the task's own (`protocol.spec`,
    `protocol.load_task`).
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
    # Measured on the quick XOR task (4 trials, n = 1024 and 4096, against the test error at
    # every step, smoothed over 15 steps so that the dense minimum is not just test-set noise):
    # the best of 12 log-spaced steps was up to 8% above the best step; of 200 (140 distinct
    # at 2000 steps), at most 3.4%.
    eval_points: int = 200
    # The networks train in rounds of `steps` until their training error meets
    # `scaling.TRAINED`, for at most `rounds` rounds (`train.Target`): on three of four XOR
    # pools, lr / 10 and no momentum missed it after one round at n >= 1024 (issue 27).
    rounds: int = 4
    seed: int = 0
    trials_per_cell: int = 1
    architecture: str | tuple[LayerConfig, ...] | None = None
    data: NpzData | None = None


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
# The XOR grid reaches n = 4096, where the network's curve falls steeply (at n <= 1024 every
# model's error sits near chance at small n, and after_kernel's fit range held 2 points);
# 2000 steps of 64 are some 30 epochs of the largest n. no_phase_transition follows its
# kernel on n = 1024: at 4096 its 30 snapshot fits (one eigh each) would take some 20 minutes.
QUICK_XOR = QUICK_MLP | dict(n_grid=(64, 128, 256, 512, 1024, 2048, 4096))
# MNIST-1D parity with a 1-D Myrtle-5: a CNN with global pooling, as [V] decides its claims
# with, on a task where translation structure matters. Width 16, not 64: a training run of
# width 64 took some 20x the time of width 16 on a CPU core, whose best test error already
# falls from 0.12 at n = 256 to 0.04 at n = 2048. n up to 2048, not 4096: each trial has its own
# pool and so its own infinite NTK (issue 27), and the 1-D Myrtle-5's over 4096 + 1000 points
# took 2.7 minutes on 2 cores, 8 of them 22; over 2048 + 1000, a third of the entries.
QUICK_MNIST1D = QUICK_XOR | dict(width=16, depth=5, n_grid=(64, 128, 256, 512, 1024, 2048))
# 8 trials: with 4, the calibrated rules had 48% power for the width claim's dip and 62% for
# K_n(n) tracking the network at the effects of [V] Fig. 2b, 4a (tests/test_calibration.py).
FULL_MYRTLE = dict(n_grid=(500, 1000, 2000, 4000, 8000), n_test=10_000, width=64, depth=5, trials=8,
                   steps=20_000, batch_size=200, trials_per_cell=4)
# [V] gives no n-grid for its exponents. It reports data-scaling curves of the after-kernels
# K_16k and K_64k, so the grid reaches 64k (the largest m a fixed after-kernel is trained on),
# from 1k: 1.8 decades where `FULL_MYRTLE` has 1.2. 40,000 steps of 200 are 125 epochs of
# 64k samples ([V]: train error below 5% took 32 epochs at 64k; its networks reach 0).
# 10 trials: with each trial on its own pool (issue 27) and the fit range chosen again in every
# resample, the exponent rule's power at [V]'s gap from chance on this grid was 79% at 8
# trials, 91% at 10 (tests/test_calibration.py).
PAPER_MYRTLE = FULL_MYRTLE | dict(n_grid=(1000, 2000, 4000, 8000, 16_000, 32_000, 64_000), steps=40_000, trials=10)
MYRTLE = {"full": FULL_MYRTLE, "paper": PAPER_MYRTLE}
BASE = (ExponentSetting("base"),)


def nn_vs_ntk_exponent(scale: str) -> tuple[ExponentConfig, ...]:
    """Quick: the XOR-type task with every ablation (theory: features beat kernels there),
    MNIST-1D parity with a 1-D Myrtle-5 in the base setting ([V]'s claim for a CNN with global
    pooling), digits parity in the base setting (a natural task; the verdict is whatever the
    data say)."""
    if check_scale(scale) in GPU_SCALES:
        return (ExponentConfig(
            scale, "cifar5m-bin", EXPONENT_ABLATIONS + (ExponentSetting("width-16", width=16),
                                                        ExponentSetting("width-1024", width=1024)),
            **MYRTLE[scale]),)
    return (
        ExponentConfig(scale, "xor", EXPONENT_ABLATIONS + (ExponentSetting("width-16", width=16),
                                                           ExponentSetting("width-256", width=256)),
                       **QUICK_XOR),
        ExponentConfig(scale, "mnist1d-parity", BASE, **QUICK_MNIST1D),
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
    """Quick: the XOR-type task at n = 1024 from width 2 (a probe found the network's minimum
    below width 16 there) to 1024; MNIST-1D parity's 1-D Myrtle-5 at n = 1024 from width 2 to
    64 (a width-128 sweep would take some 5 more minutes on 2 cores). Full and paper: [V]'s
    widths; its text gives no n, so n = 4000 (CIFAR-5m-bin) and the "smaller training size" of
    SVHN-parity, 1000."""
    if check_scale(scale) in GPU_SCALES:
        svhn = ExponentConfig(scale, "svhn-parity", BASE, n_grid=(1000,), n_test=10_000, width=64,
                              depth=5, trials=8, steps=20_000, batch_size=200, trials_per_cell=4)
        return (WidthConfig(scale, ExponentConfig(scale, "cifar5m-bin", BASE, **MYRTLE[scale]), n=4000,
                            widths=(16, 32, 64, 128, 256, 512, 1024)),
                WidthConfig(scale, svhn, n=1000, widths=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096)))
    return (WidthConfig(scale, ExponentConfig(scale, "xor", BASE, **QUICK_XOR), n=1024,
                        widths=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)),
            WidthConfig(scale, ExponentConfig(scale, "mnist1d-parity", BASE, **QUICK_MNIST1D), n=1024,
                        widths=(2, 4, 8, 16, 32, 64)))


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
    """Paper: m = 1K, 2K, ..., 1024K ([V] Fig. 1B), K_m(500), K_16k and K_64k."""
    if check_scale(scale) == "paper":
        return AfterKernelConfig(scale, ExponentConfig(scale, "cifar5m-bin", BASE, **PAPER_MYRTLE),
                                 m_grid=tuple(1000 * 2**k for k in range(11)), n0=500, fixed_m=(16_000, 64_000))
    if scale == "full":
        return AfterKernelConfig(scale, ExponentConfig(scale, "cifar5m-bin", BASE, **FULL_MYRTLE),
                                 m_grid=(500, 2000, 8000, 16_000, 64_000), n0=500,
                                 fixed_m=(16_000, 64_000))
    return AfterKernelConfig(scale, ExponentConfig(scale, "xor", BASE, **QUICK_XOR),
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
    """Paper: [V]'s 64k training samples. Full: 8000, for the budget of one GPU's day: what
    binds at 64k is compute, not memory (a 74k-point ENTK Gram is 22 GB in float32), above
    all the protocol's infinite-NTK Gram of 2.7e9 entries (README, "Presets and their cost")."""
    if check_scale(scale) in GPU_SCALES:
        return PhaseConfig(scale, ExponentConfig(scale, "cifar5m-bin", BASE, **MYRTLE[scale]))
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
    full and paper (the same: [W] publishes no protocol): up to 4096 and depth 32, a GPU job."""
    if check_scale(scale) in GPU_SCALES:
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
