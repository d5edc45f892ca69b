"""Architecture specs and the flax networks they define (NTK parameterization).

A spec is a tuple of layers: Dense, Conv (3x3, SAME, stride 1), ReLU, AvgPool (2x2,
stride 2), GlobalAvgPool and Flatten; images are NHWC. The same spec gives the finite network (`network(spec)`, a
flax.linen module), its empirical NTK (`kernels.empirical`) and its infinite-width NNGP and
NTK (`kernels.infinite`), so that the three views of one architecture cannot drift apart.

NTK parameterization: a Dense layer computes W_std / sqrt(fan_in) * x @ W + b_std * b with
W, b ~ N(0, 1) (a Conv layer likewise, with fan_in = 9 * channels); the network is trained
in these (W, b) coordinates.

References:
  Jacot, Gabriel, Hongler, "Neural Tangent Kernel", NeurIPS 2018.
  Novak et al., "Neural Tangents: fast and easy infinite neural networks in Python", ICLR 2020.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence, Union

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


@dataclasses.dataclass(frozen=True)
class Relu:
    """Elementwise max(x, 0)."""


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """2x2 average pooling, stride 2 (VALID)."""


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    """Mean over all pixels, one value per channel."""


@dataclasses.dataclass(frozen=True)
class Flatten:
    """Images (n, H, W, C) to vectors (n, H * W * C)."""


Layer = Union[Dense, Conv, Relu, AvgPool, GlobalAvgPool, Flatten]
Spec = tuple[Layer, ...]


def mlp(widths: Sequence[int], out: int = 1, W_std: float = 1.0, b_std: float = 1.0) -> Spec:
    """Dense-ReLU stack with hidden `widths` and a linear readout of size `out`."""
    layers: list[Layer] = []
    for width in widths:
        layers += [Dense(width, W_std, b_std), Relu()]
    return tuple(layers) + (Dense(out, W_std, b_std),)


def myrtle(depth: int = 5, width: int = 64, out: int = 1) -> Spec:
    """Myrtle CNN (Shankar et al. 2020) for 32x32 inputs; depth 5, 7 or 10.

    Three groups of [Conv, ReLU] (2/1/1, 2/2/2 or 3/3/3 of them) each followed by an
    AvgPool, two more AvgPools (32 -> 1), Flatten, Dense; W_std = sqrt(2), b_std = 0.
    """
    conv = (Conv(width, 2**0.5, 0.0), Relu())
    groups = {5: (2, 1, 1), 7: (2, 2, 2), 10: (3, 3, 3)}[depth]
    layers = sum((conv * k + (AvgPool(),) for k in groups), ())
    return layers + (AvgPool(), AvgPool(), Flatten(), Dense(out, 2**0.5, 0.0))


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


class NTKConv(nn.Module):
    """3x3 SAME convolution in NTK parameterization; params `kernel` (3, 3, in, width), `bias`."""

    width: int
    W_std: float
    b_std: float

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.normal(1.0), (3, 3, x.shape[-1], self.width))
        bias = self.param("bias", nn.initializers.normal(1.0), (self.width,))
        y = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return (self.W_std / jnp.sqrt(9 * x.shape[-1])) * y + self.b_std * bias


class Network(nn.Module):
    """The finite network of a spec; a scalar readout is returned squeezed to shape (batch,)."""

    spec: Spec

    @nn.compact
    def __call__(self, x):
        for i, layer in enumerate(self.spec):
            if isinstance(layer, Dense):
                x = NTKDense(layer.width, layer.W_std, layer.b_std, name=f"Dense_{i}")(x)
            elif isinstance(layer, Conv):
                x = NTKConv(layer.width, layer.W_std, layer.b_std, name=f"Conv_{i}")(x)
            elif isinstance(layer, Relu):
                x = jax.nn.relu(x)
            elif isinstance(layer, AvgPool):
                x = nn.avg_pool(x, (2, 2), strides=(2, 2))
            elif isinstance(layer, GlobalAvgPool):
                x = jnp.mean(x, axis=(1, 2))
            elif isinstance(layer, Flatten):
                x = x.reshape(x.shape[0], -1)
            else:
                raise TypeError(f"unsupported layer {layer!r}")
        return x[..., 0] if x.shape[-1] == 1 else x


def network(spec: Spec) -> Network:
    return Network(tuple(spec))
