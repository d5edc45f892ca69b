"""Architecture specs and the flax networks they define (NTK parameterization).

A spec is a tuple of layers. The same spec gives the finite network (`network(spec)`, a
flax.linen module), its empirical NTK (`kernels.empirical`) and its infinite-width NNGP and
NTK (`kernels.infinite`), so that the three views of one architecture cannot drift apart.

NTK parameterization: a Dense layer computes W_std / sqrt(fan_in) * x @ W + b_std * b with
W, b ~ N(0, 1); the network is trained in these (W, b) coordinates.

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
class Dense:
    width: int
    W_std: float = 1.0
    b_std: float = 1.0


@dataclasses.dataclass(frozen=True)
class Relu:
    pass


Layer = Union[Dense, Relu]
Spec = tuple[Layer, ...]


def mlp(widths: Sequence[int], out: int = 1, W_std: float = 1.0, b_std: float = 1.0) -> Spec:
    """Dense-ReLU stack with hidden `widths` and a linear readout of size `out`."""
    layers: list[Layer] = []
    for width in widths:
        layers += [Dense(width, W_std, b_std), Relu()]
    return tuple(layers) + (Dense(out, W_std, b_std),)


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


class Network(nn.Module):
    """The finite network of a spec; a scalar readout is returned squeezed to shape (batch,)."""

    spec: Spec

    @nn.compact
    def __call__(self, x):
        for i, layer in enumerate(self.spec):
            if isinstance(layer, Dense):
                x = NTKDense(layer.width, layer.W_std, layer.b_std, name=f"Dense_{i}")(x)
            elif isinstance(layer, Relu):
                x = jax.nn.relu(x)
            else:
                raise TypeError(f"unsupported layer {layer!r}")
        return x[..., 0] if x.shape[-1] == 1 else x


def network(spec: Spec) -> Network:
    return Network(tuple(spec))
