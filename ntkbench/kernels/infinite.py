"""Native infinite-width NNGP and NTK of a spec, in plain JAX.

The recursion runs layer by layer on the pair covariance (nngp), the NTK and each input's
own variance (computed once per input, not once per pair):
  Dense:  nngp <- W_std^2 nngp + b_std^2,   ntk <- W_std^2 ntk + nngp
  ReLU:   nngp <- T(nngp),                  ntk <- ntk * T'(nngp)
with T, T' the arc-cosine maps of order 1 and 0 (Cho & Saul). Inputs enter as
nngp = x1 . x2 / d and ntk = 0, so that a Dense layer's fan-in scaling matches `models`.

References:
  Cho, Saul, "Kernel methods for deep learning", NeurIPS 2009.
  Jacot, Gabriel, Hongler, "Neural Tangent Kernel", NeurIPS 2018.
  Lee et al., "Deep neural networks as Gaussian processes", ICLR 2018.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench._compat import maybe_x64
from ntkbench.models import Dense, Relu, Spec


class Kernels(NamedTuple):
    nngp: np.ndarray
    ntk: np.ndarray


def _relu(nngp, ntk, var1, var2):
    norm = jnp.sqrt(var1[:, None] * var2[None, :])
    cos = jnp.clip(nngp / norm, -1.0, 1.0)
    theta = jnp.arccos(cos)
    t0 = (jnp.pi - theta) / (2 * jnp.pi)
    t1 = norm * (jnp.sin(theta) + (jnp.pi - theta) * cos) / (2 * jnp.pi)
    return t1, ntk * t0, var1 / 2, var2 / 2


@functools.partial(jax.jit, static_argnums=0)
def _kernels(spec: Spec, x1, x2):
    d = x1.shape[-1]
    nngp = x1 @ x2.T / d
    ntk = jnp.zeros_like(nngp)
    var1, var2 = jnp.sum(x1 * x1, -1) / d, jnp.sum(x2 * x2, -1) / d
    for layer in spec:
        if isinstance(layer, Dense):
            w2, b2 = layer.W_std**2, layer.b_std**2
            nngp = w2 * nngp + b2
            ntk = w2 * ntk + nngp
            var1, var2 = w2 * var1 + b2, w2 * var2 + b2
        elif isinstance(layer, Relu):
            nngp, ntk, var1, var2 = _relu(nngp, ntk, var1, var2)
        else:
            raise TypeError(f"no infinite-width kernel for layer {layer!r}")
    return nngp, ntk


def kernels(spec: Spec, x1, x2=None, *, float64: bool = False, block: int = 2048) -> Kernels:
    """NNGP and NTK Gram blocks K(x1, x2) of the spec's infinite-width network.

    Args:
      spec: tuple of layers from `ntkbench.models`.
      x1, x2: inputs (n1, d), (n2, d); x2 defaults to x1.
      float64: compute in double precision (ill-conditioned solves need it).
      block: tile size over pairs; bounds memory for large n.

    Returns:
      `Kernels(nngp, ntk)` as numpy arrays of shape (n1, n2).
    """
    x2 = x1 if x2 is None else x2
    dtype = np.float64 if float64 else np.float32
    x1, x2 = np.asarray(x1, dtype), np.asarray(x2, dtype)
    nngp = np.empty((len(x1), len(x2)), dtype)
    ntk = np.empty_like(nngp)
    with maybe_x64(float64):
        for i in range(0, len(x1), block):
            for j in range(0, len(x2), block):
                a, b = _kernels(tuple(spec), x1[i:i + block], x2[j:j + block])
                nngp[i:i + block, j:j + block] = a
                ntk[i:i + block, j:j + block] = b
    return Kernels(nngp, ntk)
