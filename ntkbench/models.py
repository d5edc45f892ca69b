"""Architecture specs and the flax networks they define (NTK parameterization).

A spec is a tuple of layers: Dense, Conv (3x3, SAME, stride 1), Conv1D (3 taps, SAME,
stride 1), ReLU, Tanh, AvgPool (2x2, stride 2), AvgPool1D (2 taps, stride 2), GlobalAvgPool
and Flatten. Images are NHWC (n, H, W, C), signals (n, length, C); GlobalAvgPool and Flatten
take either. The same spec gives the finite network (`network(spec)`, a flax.linen
module), its empirical NTK (`kernels.empirical`) and its infinite-width NNGP and NTK
(`kernels.infinite`; not for Tanh, whose kernel has no closed form), so that the three views
of one architecture cannot drift apart.

NTK parameterization: a Dense layer computes W_std / sqrt(fan_in) * x @ W + b_std * b with
W, b ~ N(0, 1) (a Conv layer likewise, with fan_in = 9 * channels; Conv1D with 3 *
channels); the network is trained in these (W, b) coordinates.

References:
  Jacot, Gabriel, Hongler, "Neural Tangent Kernel", NeurIPS 2018.
  Novak et al., "Neural Tangents: fast and easy infinite neural networks in Python", ICLR 2020.
  Greydanus, "Scaling down deep learning", arXiv:2011.14439 (2020): MNIST-1D, and the
  1-D CNNs it is meant for.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import ClassVar, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class _Weighted:
    width: int
    W_std: float = 1.0
    b_std: float = 1.0


class Dense(_Weighted):
    """Fully connected layer with `width` outputs."""


class Conv(_Weighted):
    """3x3 convolution, SAME padding, stride 1, with `width` output channels."""

    dims: ClassVar[int] = 2


class Conv1D(_Weighted):
    """3-tap convolution of signals, SAME padding, stride 1, with `width` output channels."""

    dims: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True)
class Relu:
    """Elementwise max(x, 0)."""


@dataclasses.dataclass(frozen=True)
class Tanh:
    """Elementwise tanh: a network and an empirical NTK, but no infinite-width kernel
    (`kernels.infinite.has_kernel`), as its Gaussian expectations have no closed form."""


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """2x2 average pooling, stride 2 (VALID)."""

    dims: ClassVar[int] = 2


@dataclasses.dataclass(frozen=True)
class AvgPool1D:
    """2-tap average pooling of signals, stride 2 (VALID)."""

    dims: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    """Mean over all pixels (or samples of a signal), one value per channel."""


@dataclasses.dataclass(frozen=True)
class Flatten:
    """Images (n, H, W, C) to vectors (n, H * W * C); signals (n, L, C) to (n, L * C)."""


Layer = Union[Dense, Conv, Conv1D, Relu, Tanh, AvgPool, AvgPool1D, GlobalAvgPool, Flatten]
Spec = tuple[Layer, ...]


def mlp(widths: Sequence[int], out: int = 1, W_std: float = 1.0, b_std: float = 1.0) -> Spec:
    """Dense-ReLU stack with hidden `widths` and a linear readout of size `out`."""
    layers: list[Layer] = []
    for width in widths:
        layers += [Dense(width, W_std, b_std), Relu()]
    return tuple(layers) + (Dense(out, W_std, b_std),)


_MYRTLE_GROUPS = {5: (2, 1, 1), 7: (2, 2, 2), 10: (3, 3, 3)}


def myrtle(depth: int = 5, width: int = 64, out: int = 1) -> Spec:
    """Myrtle CNN (Shankar et al. 2020) for 32x32 inputs; depth 5, 7 or 10.

    Three groups of [Conv, ReLU] (2/1/1, 2/2/2 or 3/3/3 of them) each followed by an
    AvgPool, two more AvgPools (32 -> 1), Flatten, Dense; W_std = sqrt(2), b_std = 0.
    """
    conv = (Conv(width, 2**0.5, 0.0), Relu())
    layers = sum((conv * k + (AvgPool(),) for k in _MYRTLE_GROUPS[depth]), ())
    return layers + (AvgPool(), AvgPool(), Flatten(), Dense(out, 2**0.5, 0.0))


def myrtle1d(depth: int = 5, width: int = 64, out: int = 1) -> Spec:
    """The Myrtle pattern for 40-sample signals (MNIST-1D); depth 5, 7 or 10.

    As `myrtle`, with Conv1D and AvgPool1D: three groups of [Conv1D, ReLU] (2/1/1, 2/2/2
    or 3/3/3) each followed by an AvgPool1D (40 -> 20 -> 10 -> 5), then GlobalAvgPool and
    a Dense readout; W_std = sqrt(2), b_std = 0. Where the 2-D Myrtle pools its last 4x4 on
    to one pixel and flattens, five samples do not halve (a VALID pool would drop the
    fifth), so one global mean over them takes the place of the last poolings.

    References:
      Shankar, Fang, Guo, Fridovich-Keil, Schmidt, Ragan-Kelley, Recht, "Neural kernels
      without tangents", ICML 2020 (the Myrtle networks).
      Greydanus, "Scaling down deep learning", arXiv:2011.14439 (2020): 40-sample MNIST-1D.
    """
    conv = (Conv1D(width, 2**0.5, 0.0), Relu())
    layers = sum((conv * k + (AvgPool1D(),) for k in _MYRTLE_GROUPS[depth]), ())
    return layers + (GlobalAvgPool(), Dense(out, 2**0.5, 0.0))


def cnn5(width: int = 64, out: int = 1) -> Spec:
    """The 5-layer CNN chosen for SVHN-parity: [Conv, ReLU] x 4, global average pool, Dense."""
    return (Conv(width, 2**0.5, 0.0), Relu()) * 4 + (GlobalAvgPool(), Dense(out, 2**0.5, 0.0))


class NTKDense(nn.Module):
    """Dense layer in NTK parameterization; params `kernel` (fan_in, width) and `bias`."""

    width: int
    W_std: float
    b_std: float

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.normal(1.0), (x.shape[-1], self.width))
        bias = self.param("bias", nn.initializers.normal(1.0), (self.width,))
        return (self.W_std / jnp.sqrt(x.shape[-1])) * (x @ kernel) + self.b_std * bias


def taps(x, dims: int):
    """Every position's 3 (dims 1) or 3x3 (dims 2) SAME-padded neighbourhood, on the channel
    axis: (n, *spatial, 3**dims * C), offsets in row-major order, each offset's C channels
    together (the order of a conv kernel (3, ..., C, width) reshaped to (3**dims * C, width))."""
    spatial = x.shape[1:-1]
    padded = jnp.pad(x, [(0, 0)] + [(1, 1)] * dims + [(0, 0)])
    return jnp.concatenate([padded[(slice(None),) + tuple(slice(o, o + s) for o, s in zip(offset, spatial))]
                            for offset in itertools.product(range(3), repeat=dims)], -1)


class NTKConv(nn.Module):
    """3x3 (`dims` 2) or 3-tap (`dims` 1) SAME convolution in NTK parameterization; params
    `kernel` (3, 3, in, width) or (3, in, width), and `bias`.

    On a CPU it is `taps` times the kernel as one matrix: XLA's CPU convolution inside a loop
    (the training scan) ran 7-14x slower than outside one, a matrix product alike in both
    (benchmarks/test_engine_speed.py::test_conv_as_taps_in_the_training_scan); elsewhere
    XLA's convolution.
    """

    width: int
    W_std: float
    b_std: float
    dims: int

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.normal(1.0), (3,) * self.dims + (x.shape[-1], self.width))
        bias = self.param("bias", nn.initializers.normal(1.0), (self.width,))
        if jax.default_backend() == "cpu":
            y = taps(x, self.dims) @ kernel.reshape(-1, self.width)
        else:
            layout = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}[self.dims]
            y = jax.lax.conv_general_dilated(x, kernel, (1,) * self.dims, "SAME", dimension_numbers=layout)
        return (self.W_std / jnp.sqrt(3**self.dims * x.shape[-1])) * y + self.b_std * bias


class Network(nn.Module):
    """The finite network of a spec; a scalar readout is returned squeezed to shape (batch,)."""

    spec: Spec

    @nn.compact
    def __call__(self, x):
        for i, layer in enumerate(self.spec):
            if isinstance(layer, Dense):
                x = NTKDense(layer.width, layer.W_std, layer.b_std, name=f"Dense_{i}")(x)
            elif isinstance(layer, (Conv, Conv1D, AvgPool, AvgPool1D)) and x.ndim != layer.dims + 2:
                raise ValueError(f"{type(layer).__name__} needs inputs with {layer.dims} spatial axes "
                                 f"and channels last, got shape {x.shape}")
            elif isinstance(layer, (Conv, Conv1D)):
                x = NTKConv(layer.width, layer.W_std, layer.b_std, layer.dims, name=f"{type(layer).__name__}_{i}")(x)
            else:
                x = parameter_free(layer, x)
        return x[..., 0] if x.shape[-1] == 1 else x


def parameter_free(layer: Layer, x):
    """The output of a layer without parameters: a nonlinearity, a pooling or a flattening."""
    if isinstance(layer, Relu):
        return jax.nn.relu(x)
    if isinstance(layer, Tanh):
        return jnp.tanh(x)
    if isinstance(layer, (AvgPool, AvgPool1D)):
        return nn.avg_pool(x, (2,) * layer.dims, strides=(2,) * layer.dims)
    if isinstance(layer, GlobalAvgPool):
        return jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))
    if isinstance(layer, Flatten):
        return x.reshape(x.shape[0], -1)
    raise TypeError(f"unsupported layer {layer!r}")


def network(spec: Spec) -> Network:
    return Network(tuple(spec))
