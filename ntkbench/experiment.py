"""A researcher's experiment for [V]'s protocol claims: their architecture and binary data.

One YAML file (`--experiment PATH`), read with OmegaConf against the schema `Schema`, so
that a misspelt key or a value of the wrong type is an error naming it. It replaces the
preset's task and architecture in the four claims built on `claims.protocol`
(nn_vs_ntk_exponent, width_deterioration, after_kernel, no_phase_transition) and sets their
sizes; the presets' other claims do not take it. Relative paths are relative to the file.

    name: my-task                  # the task's name in statistic names (diff/my-task/base/NN-NTK)
    task: {npz: data.npz, test_fraction: 0.25}       # or test_file: test.npz
    architecture:                  # layers of ntkbench.models, or {factory: mlp, depth: 3}
      layers: [{kind: Dense}, {kind: Relu}, {kind: Dense, width: 1}]
    n_grid: [64, 128, 256]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Optional

import jax
import numpy as np
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ntkbench import models
from ntkbench.claims import protocol
from ntkbench.config import (EXPONENT_ABLATIONS, AfterKernelConfig, ExponentConfig, LayerConfig, NpzData,
                             PhaseConfig, WidthConfig)
from ntkbench.data import npz
from ntkbench.data.errors import DataError
from ntkbench.kernels import infinite

SETTINGS = {s.name: s for s in EXPONENT_ABLATIONS}


class ExperimentError(Exception):
    """An experiment file that cannot be read, or describes an architecture ntkbench lacks."""


@dataclasses.dataclass
class TaskSchema:
    """`npz`: the data file; the test set is `test_file` or a `test_fraction` of `npz`
    (drawn with `split_seed`)."""

    npz: str = MISSING
    test_fraction: Optional[float] = None
    test_file: Optional[str] = None
    split_seed: int = 0


@dataclasses.dataclass
class LayerSchema:
    """A layer of `ntkbench.models` by name; Dense and Conv without `width` take the
    experiment's width."""

    kind: str = MISSING
    width: Optional[int] = None
    W_std: float = 1.0
    b_std: float = 1.0


@dataclasses.dataclass
class ArchitectureSchema:
    """Either `layers`, or a `factory` (mlp, myrtle, myrtle1d, cnn5) with its `depth`."""

    factory: Optional[str] = None
    depth: int = 2
    layers: Optional[List[LayerSchema]] = None


@dataclasses.dataclass
class WidthSweepSchema:
    """width_deterioration: the widths at one n (default: the n-grid's largest)."""

    widths: List[int] = dataclasses.field(default_factory=lambda: [2, 4, 8, 16, 32, 64, 128, 256])
    n: Optional[int] = None


@dataclasses.dataclass
class AfterKernelSchema:
    """after_kernel: networks trained on each m of `m_grid` (default: the n-grid), K_m read at
    `n0` (default: the smallest n), learning curves of K_m for each of `fixed_m` (default:
    the largest n). The pool holds the largest m plus the largest n of fresh samples."""

    m_grid: Optional[List[int]] = None
    n0: Optional[int] = None
    fixed_m: Optional[List[int]] = None


@dataclasses.dataclass
class Schema:
    """The experiment file; the protocol's fields are those of `config.ExponentConfig`
    (`n_test` default: every test sample), `settings` names of `config.EXPONENT_ABLATIONS`."""

    task: TaskSchema = MISSING
    n_grid: List[int] = MISSING
    name: str = "custom"
    architecture: ArchitectureSchema = dataclasses.field(default_factory=ArchitectureSchema)
    width: int = 64
    n_test: Optional[int] = None
    trials: int = 8
    steps: int = 2000
    batch_size: int = 64
    lr_fraction: float = 0.25
    eval_points: int = 200
    seed: int = 0
    settings: List[str] = dataclasses.field(default_factory=lambda: ["base"])
    width_sweep: WidthSweepSchema = dataclasses.field(default_factory=WidthSweepSchema)
    after_kernel: AfterKernelSchema = dataclasses.field(default_factory=AfterKernelSchema)
    snapshots: int = 30


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A read and checked experiment: the protocol (`scale` set by each claim's preset) and
    the sizes of the claims built on it."""

    path: Path
    protocol: ExponentConfig
    width_sweep: WidthSweepSchema
    after_kernel: AfterKernelSchema
    snapshots: int

    def base(self, scale: str) -> ExponentConfig:
        """The protocol in its base setting at `scale`, as the width, after-kernel and kernel
        evolution claims train."""
        return dataclasses.replace(self.protocol, scale=scale, settings=(SETTINGS["base"],))


def load(path: str | Path) -> Experiment:
    """The experiment in the YAML file `path`: an ExperimentError for a file that cannot be
    read or names what ntkbench lacks, a DataError for data that cannot serve it."""
    path = Path(path)
    try:
        schema: Schema = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Schema), OmegaConf.load(path)))
    except (OSError, OmegaConfBaseException, ValueError) as err:
        raise ExperimentError(f"The experiment file {path} cannot be read: {str(err).splitlines()[0]}. It is a "
                              "YAML file with the keys of ntkbench.experiment.Schema (README: Your own model "
                              "and data).") from None
    unknown = [s for s in schema.settings if s not in SETTINGS]
    if unknown:
        raise ExperimentError(f"The experiment file {path} names the setting {unknown[0]!r}; the settings are "
                              f"{', '.join(SETTINGS)}.")
    data = _data(path.parent, schema.task, path)
    x_train, _, x_test, _ = npz.split(data)
    largest = max(schema.n_grid + [schema.width_sweep.n or 0])
    if largest > len(x_train):
        raise DataError(f"{data.path} has {len(x_train)} training samples and the experiment {path} "
                            f"trains on up to {largest}; shrink its n_grid (or width_sweep.n), or give more samples.")
    cfg = ExponentConfig(
        "quick", schema.name, tuple(SETTINGS[s] for s in schema.settings), n_grid=tuple(schema.n_grid),
        n_test=schema.n_test or len(x_test), width=schema.width, depth=schema.architecture.depth,
        trials=schema.trials, steps=schema.steps, batch_size=schema.batch_size, lr_fraction=schema.lr_fraction,
        eval_points=schema.eval_points, seed=schema.seed, architecture=_architecture(schema.architecture, path),
        data=data)
    _check_architecture(cfg, x_train[:2], path)
    return Experiment(path, cfg, schema.width_sweep, schema.after_kernel, schema.snapshots)


def _data(folder: Path, task: TaskSchema, path: Path) -> NpzData:
    if (task.test_fraction is None) == (task.test_file is None):
        raise ExperimentError(f"The experiment file {path} gives the task {'both' if task.test_file else 'neither'} "
                              "test_fraction and test_file; give one: the test set is a fraction of the npz file "
                              "or a file of its own.")
    if task.test_fraction is not None and not 0 < task.test_fraction < 1:
        raise ExperimentError(f"The experiment file {path} gives test_fraction {task.test_fraction}; it is a "
                              "fraction of the samples, between 0 and 1.")
    train = str(folder / task.npz)
    test = str(folder / task.test_file) if task.test_file else None
    return NpzData(train, npz.digest(train), task.test_fraction, test, test and npz.digest(test), task.split_seed)


def _architecture(a: ArchitectureSchema, path: Path) -> str | tuple[LayerConfig, ...]:
    if (a.factory is None) == (a.layers is None):
        raise ExperimentError(f"The experiment file {path} gives its architecture {'both' if a.layers else 'neither'} "
                              f"a factory and layers; give one: a factory ({', '.join(protocol.FACTORIES)}) with "
                              f"its depth, or a list of layers ({', '.join(protocol.LAYERS)}).")
    if a.factory is not None:
        if a.factory not in protocol.FACTORIES:
            raise ExperimentError(f"The experiment file {path} names the architecture {a.factory!r}; ntkbench's "
                                  f"factories are {', '.join(protocol.FACTORIES)}, or list layers "
                                  f"({', '.join(protocol.LAYERS)}) under architecture.layers.")
        return a.factory
    weighted = ", ".join(name for name, layer in protocol.LAYERS.items() if "width" in
                            {f.name for f in dataclasses.fields(layer)})
    for layer in a.layers:
        if layer.kind not in protocol.LAYERS:
            raise ExperimentError(f"The experiment file {path} names the layer {layer.kind!r}; the layers of "
                                  f"ntkbench.models are {', '.join(protocol.LAYERS)} ({weighted} take width, "
                                  "W_std, b_std).")
    return tuple(LayerConfig(**dataclasses.asdict(layer)) for layer in a.layers)


def _check_architecture(cfg: ExponentConfig, x: np.ndarray, path: Path) -> None:
    """The architecture runs on two samples as a network with one output, and its layers fit
    together as the infinite-width kernel sees them (where it has one: an architecture with a
    models.Tanh layer has NN and ENTK-init rows only, `protocol.models_of`)."""
    spec = protocol.network_spec(protocol.shared(cfg), cfg.width)
    try:
        if infinite.has_kernel(spec):
            infinite.kernels(spec, x)
    except ValueError as err:
        raise ExperimentError(f"The architecture of {path} does not fit its layers together: {err}.") from None
    try:
        out = models.network(spec).apply(models.network(spec).init(jax.random.PRNGKey(0), x), x)
    except Exception as err:
        raise ExperimentError(f"The architecture of {path} does not run on the data's inputs of shape "
                              f"{x.shape[1:]}: {type(err).__name__}: {err}.") from None
    if out.shape != (len(x),):
        raise ExperimentError(f"The architecture of {path} has {out.shape[-1]} outputs; the protocol fits "
                              "+-1 labels with one: end it with {kind: Dense, width: 1}.")


def exponent_configs(cfgs: tuple[ExponentConfig, ...], experiment: Experiment) -> tuple[ExponentConfig, ...]:
    """nn_vs_ntk_exponent on the experiment, in its settings."""
    return (dataclasses.replace(experiment.protocol, scale=cfgs[0].scale),)


def width_configs(cfgs: tuple[WidthConfig, ...], experiment: Experiment) -> tuple[WidthConfig, ...]:
    """width_deterioration on the experiment."""
    sweep = experiment.width_sweep
    return (WidthConfig(cfgs[0].scale, experiment.base(cfgs[0].scale), n=sweep.n or experiment.protocol.n_grid[-1],
                        widths=tuple(sweep.widths)),)


def after_kernel_config(cfg: AfterKernelConfig, experiment: Experiment) -> AfterKernelConfig:
    """after_kernel on the experiment."""
    grid, a = experiment.protocol.n_grid, experiment.after_kernel
    return AfterKernelConfig(cfg.scale, experiment.base(cfg.scale), m_grid=tuple(a.m_grid or grid),
                             n0=a.n0 or grid[0], fixed_m=tuple(a.fixed_m or grid[-1:]))


def phase_config(cfg: PhaseConfig, experiment: Experiment) -> PhaseConfig:
    """no_phase_transition on the experiment."""
    return dataclasses.replace(cfg, protocol=experiment.base(cfg.scale), snapshots=experiment.snapshots)
