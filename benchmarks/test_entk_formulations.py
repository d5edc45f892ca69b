"""Exact ENTK formulations for convolutional specs (Novak et al., "Fast finite width neural
tangent kernel", ICML 2022), timed against today's Jacobian contraction in one run:

(1) Jacobian contraction (`empirical.jacobian_ntk`): per-example Jacobians J (n, P), then
    J1 @ J2.T: 2P FLOPs per pair (plus one backward pass per example).
(2) NTK-vector products: a column of a Gram block is the linearized jvp at the row block of
    the vjp at the column block with a one-hot cotangent: about 4F FLOPs per pair for a
    forward pass of F FLOPs (2F for the jvp of a row example, 2F for the one-hot vjp over
    the column block, per column example), nothing of size P held per example.
(3) Structured derivatives: a conv layer's kernel gradient is scale * sum_p patch_p g_p^T
    (g: cotangents at the layer's output, patches of its input), so its share of the Gram
    is scale^2 sum_{p,p'} <g_p, g'_p'> <patch_p, patch'_p'> (+ b_std^2 <sum g, sum g'>):
    positions^2 (C_out + taps C_in + 1) multiply-adds per pair; here the patch Gram is the
    sum of the taps' shifted Grams of the padded input, positions^2 (C_in + taps).

`per_pair_flops` gives the analytic counts from the layer shapes. On the Myrtle shapes
(many positions, few channels) (1) needs by far the fewest, and is the fastest measured.
"""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import models
from ntkbench.kernels import empirical
from ntkbench.models import AvgPool, AvgPool1D, Conv, Conv1D, Dense, Flatten, GlobalAvgPool

_WEIGHTED = (Dense, Conv, Conv1D)


def _name(i, layer):
    return f"{type(layer).__name__}_{i}"


def _symmetric(block_fn, n, block):
    """Symmetric Gram (n, n) from its upper blocks `block_fn(rows, cols)` (slices)."""
    out = np.empty((n, n), np.float32)
    for i in range(0, n, block):
        for j in range(i, n, block):
            out[i:i + block, j:j + block] = block_fn(slice(i, i + block), slice(j, j + block))
            out[j:j + block, i:i + block] = out[i:i + block, j:j + block].T
    return out


# (2) NTK-vector products ----------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=0)
def _ntk_vp_block(spec, params, x1, x2):
    net = models.network(spec)
    _, vjp2 = jax.vjp(lambda p: net.apply({"params": p}, x2), params)
    _, jvp1 = jax.linearize(lambda p: net.apply({"params": p}, x1), params)
    return jax.vmap(lambda ct: jvp1(vjp2(ct)[0]))(jnp.eye(len(x2), dtype=x2.dtype)).T


def ntk_vector_products(spec, params, x, *, block):
    """ENTK Gram (n, n) by NTK-vector products, `block` columns (and rows) at a time."""
    spec, x = tuple(spec), jnp.asarray(x, jnp.float32)
    return _symmetric(lambda r, c: np.asarray(_ntk_vp_block(spec, params, x[r], x[c])), len(x), block)


# (3) Structured derivatives -------------------------------------------------------------


def _forward(spec, params, x, shifts=None):
    """models.Network's function (as on a CPU) with `shifts` added to each weighted layer's
    output: the summed output, and each weighted layer's input and output."""
    h, inputs, outputs = x, {}, {}
    for i, layer in enumerate(spec):
        if isinstance(layer, _WEIGHTED):
            name = _name(i, layer)
            p, inputs[name] = params[name], h
            patches = h if isinstance(layer, Dense) else models.taps(h, layer.dims)
            h = (layer.W_std / math.sqrt(patches.shape[-1])) * (patches @ p["kernel"].reshape(-1, layer.width))
            h = h + layer.b_std * p["bias"]
            outputs[name] = h = h if shifts is None else h + shifts[name]
        else:
            h = models.parameter_free(layer, h)
    return jnp.sum(h), (inputs, outputs)


@functools.partial(jax.jit, static_argnums=0)
def _factors(spec, params, x):
    """Per weighted layer, per example: its input, and the output's cotangent at its output."""
    _, (_, outputs) = jax.eval_shape(lambda x: _forward(spec, params, x), x)
    shifts = {k: jnp.zeros(v.shape, v.dtype) for k, v in outputs.items()}
    cotangents, (inputs, _) = jax.grad(lambda s: _forward(spec, params, x, s), has_aux=True)(shifts)
    return inputs, cotangents


def _patch_gram(h1, h2, dims):
    """<patch_p(h1), patch_q(h2)> for one h1 (*S, C) and a block h2 (b, *S, C): (b, S, S),
    as the sum over the 3**dims taps of the padded inputs' shifted position Grams."""
    spatial = h1.shape[:-1]
    pad = [(1, 1)] * dims + [(0, 0)]
    p1 = jnp.pad(h1, pad).reshape(-1, h1.shape[-1])
    p2 = jnp.pad(h2, [(0, 0)] + pad).reshape(len(h2), -1, h2.shape[-1])
    padded = tuple(s + 2 for s in spatial)
    gram = jnp.einsum("pc,bqc->bpq", p1, p2).reshape((len(h2),) + padded + padded)
    out = 0.0
    for t in itertools.product(range(3), repeat=dims):
        window = tuple(slice(o, o + s) for o, s in zip(t, spatial))
        out = out + gram[(slice(None),) + window + window]
    size = math.prod(spatial)
    return out.reshape(len(h2), size, size)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _structured_block(spec, factors1, factors2, rows_at_once):
    (in1, ct1), (in2, ct2) = factors1, factors2
    out = 0.0
    for i, layer in enumerate(spec):
        if not isinstance(layer, _WEIGHTED):
            continue
        name = _name(i, layer)
        h1, h2, g1, g2 = in1[name], in2[name], ct1[name], ct2[name]
        if isinstance(layer, Dense):
            out = out + (layer.W_std**2 / h1.shape[-1] * (h1 @ h2.T) + layer.b_std**2) * (g1 @ g2.T)
            continue
        g1 = g1.reshape(len(g1), -1, g1.shape[-1])
        g2 = g2.reshape(len(g2), -1, g2.shape[-1])

        def row(args, h2=h2, g2=g2, dims=layer.dims):
            h, g = args
            return jnp.einsum("pc,bqc,bpq->b", g, g2, _patch_gram(h, h2, dims))

        kernel = jax.lax.map(row, (h1, g1), batch_size=rows_at_once)
        out = out + layer.W_std**2 / (3**layer.dims * h1.shape[-1]) * kernel
        out = out + layer.b_std**2 * (g1.sum(1) @ g2.sum(1).T)
    return out


def structured_ntk(spec, params, x, *, block, memory=2**28):
    """ENTK Gram (n, n) by structured derivatives of the conv (and Dense) layers."""
    spec, x = tuple(spec), jnp.asarray(x, jnp.float32)
    parts = [_factors(spec, params, x[i:i + block]) for i in range(0, len(x), block)]
    factors = jax.tree.map(lambda *a: jnp.concatenate(a), *parts)
    padded = max(math.prod(s + 2 for s in h.shape[1:-1]) for h in factors[0].values())
    rows = max(1, memory // (4 * 3 * block * padded**2))
    return _symmetric(lambda r, c: np.asarray(_structured_block(
        spec, jax.tree.map(lambda a: a[r], factors), jax.tree.map(lambda a: a[c], factors), rows)),
        len(x), block)


# analytic FLOPs per pair ----------------------------------------------------------------


def per_pair_flops(spec, input_shape):
    """FLOPs (2 per multiply-add) per Gram entry of each formulation, from the layer shapes:
    {"jacobian": 2P, "ntk_vp": 4F (F: one example's forward FLOPs), "structured": the
    position Grams, "structured_direct_patches": the same with patch Grams from the patches}."""
    shape, params, forward, structured, direct = tuple(input_shape), 0, 0, 0, 0
    for layer in spec:
        if isinstance(layer, _WEIGHTED):
            taps = 1 if isinstance(layer, Dense) else 3**layer.dims
            fan_in = taps * shape[-1]
            positions = math.prod(shape[:-1]) if not isinstance(layer, Dense) else 1
            params += fan_in * layer.width + layer.width
            forward += 2 * positions * fan_in * layer.width
            if isinstance(layer, Dense):
                structured += 2 * (shape[-1] + 1 + 1)
                direct += 2 * (shape[-1] + 1 + 1)
            else:
                padded = math.prod(s + 2 for s in shape[:-1])
                structured += 2 * (positions**2 * (layer.width + 1) + padded**2 * shape[-1]) + positions**2 * taps
                direct += 2 * positions**2 * (layer.width + fan_in + 1)
            shape = shape[:-1] + (layer.width,)
        elif isinstance(layer, (AvgPool, AvgPool1D)):
            shape = tuple(s // 2 for s in shape[:-1]) + shape[-1:]
        elif isinstance(layer, GlobalAvgPool):
            shape = shape[-1:]
        elif isinstance(layer, Flatten):
            shape = (math.prod(shape),)
    return {"jacobian": 2 * params, "ntk_vp": 4 * forward, "structured": structured,
            "structured_direct_patches": direct, "params": params, "forward": forward}


# the benchmark --------------------------------------------------------------------------


def _agree(gram, reference):
    np.testing.assert_allclose(gram, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


def test_entk_formulations_for_conv_specs(benchmark, best_of):
    """ENTK Gram of the 1-D Myrtle-5 at width 16 (n = 256 signals) and 64 (n = 128), and of
    the 2-D Myrtle-5 at width 64 (n = 16 images; (2) and (3) cost too much on a CPU for more):
    Jacobian contraction (the benchmark's own time) vs NTK-vector products and structured
    derivatives, all exact: each must agree with (1) within float32 rounding."""
    rng = np.random.default_rng(0)
    cases = [("myrtle1d-5 w16", models.myrtle1d(5, 16), rng.normal(size=(256, 40, 1)), 64),
             ("myrtle1d-5 w64", models.myrtle1d(5, 64), rng.normal(size=(128, 40, 1)), 64),
             ("myrtle-5 w64", models.myrtle(5, 64), rng.normal(size=(16, 32, 32, 3)), 8)]
    lines = []
    for label, spec, x, block in cases:
        x = x.astype(np.float32)
        params = models.network(spec).init(jax.random.PRNGKey(0), x[:1])["params"]
        runs = {"jacobian": lambda: empirical.jacobian_ntk(spec, params, x),
                "ntk_vp": lambda: ntk_vector_products(spec, params, x, block=block),
                "structured": lambda: structured_ntk(spec, params, x, block=block)}
        reference = runs["jacobian"]()
        for name in ("ntk_vp", "structured"):
            _agree(runs[name](), reference)
        if label == cases[0][0]:
            benchmark.pedantic(runs["jacobian"], rounds=3, iterations=1)
        seconds = {name: best_of(run, rounds=2) for name, run in runs.items()}
        flops = per_pair_flops(spec, x.shape[1:])
        for name in ("ntk_vp", "structured"):
            ratio = seconds[name] / seconds["jacobian"]
            benchmark.extra_info[f"{label} {name} / jacobian"] = ratio
            assert ratio > 1, f"{label}: {name} beat the Jacobian contraction ({ratio:.2f}x its time)"
        lines.append(f"{label:15s} n={len(x):4d}  " + "  ".join(
            f"{name} {seconds[name]:7.3f}s ({seconds[name] / seconds['jacobian']:6.1f}x, "
            f"{flops[name]:.3g} FLOP/pair)" for name in runs))
    print("\nENTK formulations (time, x Jacobian contraction's, analytic FLOPs per pair):\n" + "\n".join(lines))
