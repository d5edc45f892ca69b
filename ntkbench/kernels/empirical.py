"""Empirical NTK of a finite network: Theta(x1, x2) = J(x1) J(x2)^T at given parameters.

Two exact ways, chosen by the spec:
- Dense/ReLU stacks (MLPs): per layer, the weight gradient is an outer product of the
  layer's input h and the output's sensitivity delta to the layer's pre-activation, so
  Theta = sum_l (W_std^2 / fan_in <h_l, h_l'> + b_std^2) <delta_l, delta_l'>. This costs
  O(n^2 * sum of widths) instead of O(n^2 * number of parameters): width-1024 MLPs become
  cheap (benchmarks/test_engine_speed.py measures the ratio).
- Any other spec: per-example gradients of the scalar output (`vmap` of `grad`), flattened,
  for a block of inputs at a time (on jax 0.4.25's CPU backend, `jacrev` over a batch of 64
  or more returned wrong Jacobians, off by up to 5% in the Gram; `vmap(grad)` is exact on
  both stacks); Gram blocks are products of those, each block's Jacobian computed once
  within a memory budget, and a symmetric Gram computes only its upper blocks.

References:
  Novak et al., "Fast finite width neural tangent kernel", ICML 2022 (structured
  derivatives of the NTK).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench.models import Dense, Flatten, Relu, Spec, network

JACOBIAN_BYTES = 2**31
"""How many bytes of per-example Jacobians `jacobian_ntk` holds at once (2 GiB)."""


def ntk(spec: Spec, params, x1, x2=None, *, block: int = 256) -> np.ndarray:
    """ENTK Gram block (n1, n2) of `models.network(spec)` at `params` (float32)."""
    spec = tuple(spec)
    if all(isinstance(layer, (Dense, Relu, Flatten)) for layer in spec):
        return _mlp_ntk(spec, params, x1, x2, block)
    return jacobian_ntk(spec, params, x1, x2, block=block)


@functools.partial(jax.jit, static_argnums=0)
def _mlp_factors(spec: Spec, params, x):
    """Per Dense layer: its inputs h (n, fan_in) and the output's sensitivities delta (n, width)."""
    x = x.reshape(x.shape[0], -1)
    dense = [i for i, layer in enumerate(spec) if isinstance(layer, Dense)]

    def forward(shifts):
        h, inputs = x, []
        for i, layer in enumerate(spec):
            if isinstance(layer, Dense):
                inputs.append(h)
                p = params[f"Dense_{i}"]
                h = (layer.W_std / jnp.sqrt(h.shape[-1])) * (h @ p["kernel"]) + layer.b_std * p["bias"]
                h = h + shifts[dense.index(i)]
            elif isinstance(layer, Relu):
                h = jax.nn.relu(h)
        return jnp.sum(h), inputs

    shifts = [jnp.zeros((x.shape[0], spec[i].width), x.dtype) for i in dense]
    deltas, inputs = jax.grad(forward, has_aux=True)(shifts)
    return inputs, deltas


@functools.partial(jax.jit, static_argnums=0)
def _mlp_gram(spec: Spec, factors1, factors2):
    dense = [layer for layer in spec if isinstance(layer, Dense)]
    out = 0.0
    for layer, h1, d1, h2, d2 in zip(dense, *factors1, *factors2):
        scale = layer.W_std**2 / h1.shape[-1]
        out = out + (scale * (h1 @ h2.T) + layer.b_std**2) * (d1 @ d2.T)
    return out


def _blocked_factors(spec: Spec, params, x, block: int):
    """`_mlp_factors` a block of rows at a time (jax 0.4.25's CPU backend returned wrong
    sensitivities for a batch of 1000 inputs at once, right ones for 513)."""
    x = np.asarray(x, np.float32)
    parts = [_mlp_factors(spec, params, jnp.asarray(x[i:i + block])) for i in range(0, len(x), block)]
    return tuple([jnp.concatenate([p[k][layer] for p in parts]) for layer in range(len(parts[0][k]))]
                 for k in range(2))


def _mlp_ntk(spec: Spec, params, x1, x2=None, block: int = 256) -> np.ndarray:
    f1 = _blocked_factors(spec, params, x1, block)
    f2 = f1 if x2 is None else _blocked_factors(spec, params, x2, block)
    return np.asarray(_mlp_gram(spec, f1, f2))


@functools.partial(jax.jit, static_argnums=0)
def _jacobian(spec: Spec, params, x):
    net = network(spec)
    grad = jax.grad(lambda p, xi: net.apply({"params": p}, xi[None])[0])
    j = jax.vmap(grad, in_axes=(None, 0))(params, x)
    return jnp.concatenate([a.reshape(x.shape[0], -1) for a in jax.tree.leaves(j)], axis=1)


def jacobian_ntk(spec: Spec, params, x1, x2=None, *, block: int = 256, memory: int = JACOBIAN_BYTES) -> np.ndarray:
    """ENTK Gram block (n1, n2) from explicit per-example Jacobians (any spec; float32).

    The columns' Jacobians are held a panel at a time, as many blocks of `block` inputs as
    `memory` bytes hold (at least one), and each row block's Jacobian is computed once per
    panel: once in all when they fit, where recomputing the column block for every row block
    cost B(B+1)/2 Jacobians for B blocks. A symmetric Gram computes only its upper blocks and
    takes the panel's own Jacobians for its rows. Every product is the same (block, block)
    product whatever the panel, so the Gram does not depend on `memory`.
    """
    spec = tuple(spec)
    same = x2 is None
    x1 = np.asarray(x1, np.float32)
    x2 = x1 if same else np.asarray(x2, np.float32)
    out = np.empty((len(x1), len(x2)), np.float32)
    starts = range(0, len(x2), block)
    blocks_held = max(1, memory // (4 * block * sum(p.size for p in jax.tree.leaves(params))))
    for first in range(0, len(starts), blocks_held):
        panel = {j: _jacobian(spec, params, x2[j:j + block]) for j in starts[first:first + blocks_held]}
        for i in range(0, len(x1), block):
            columns = [j for j in panel if not same or j >= i]
            if not columns:
                break
            j1 = panel[i] if same and i in panel else _jacobian(spec, params, x1[i:i + block])
            for j in columns:
                out[i:i + block, j:j + block] = j1 @ panel[j].T
                if same:
                    out[j:j + block, i:i + block] = out[i:i + block, j:j + block].T
    return out
