"""Empirical NTK of a finite network: Theta(x1, x2) = J(x1) J(x2)^T at given parameters.

Plain JAX: the Jacobian of the scalar output with respect to every parameter, contracted
over parameters, in blocks of inputs so that memory stays bounded.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench.models import Spec, network


@functools.partial(jax.jit, static_argnums=0)
def _block(spec: Spec, params, x1, x2):
    net = network(spec)

    def jac(x):
        j = jax.jacrev(lambda p: net.apply({"params": p}, x))(params)
        return jnp.concatenate([a.reshape(x.shape[0], -1) for a in jax.tree.leaves(j)], axis=1)

    return jac(x1) @ jac(x2).T


def ntk(spec: Spec, params, x1, x2=None, *, block: int = 256) -> np.ndarray:
    """ENTK Gram block (n1, n2) of `models.network(spec)` at `params` (float32)."""
    x2 = x1 if x2 is None else x2
    x1, x2 = np.asarray(x1, np.float32), np.asarray(x2, np.float32)
    out = np.empty((len(x1), len(x2)), np.float32)
    for i in range(0, len(x1), block):
        for j in range(0, len(x2), block):
            out[i:i + block, j:j + block] = _block(tuple(spec), params, x1[i:i + block],
                                                   x2[j:j + block])
    return out
