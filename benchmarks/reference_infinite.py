"""The native infinite kernels as they were before issue 17, kept as the benchmarks'
reference (benchmarks/test_kernel_stages.py measures the library against it in one run).
Not part of the library; a verbatim copy of ntkbench/kernels/infinite.py at main 9969ffa,
but for this docstring.

The recursion runs layer by layer on the covariance of a pair of inputs (nngp) and the
NTK, one XLA program per tile of pairs: XLA's `arccos` and `sin` in the ReLU, a zero-padded
copy for each 3x3 convolution, tiles of 4M pixel-pair entries.
"""
from __future__ import annotations

import collections
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench._compat import maybe_x64
from ntkbench.models import AvgPool, Conv, Dense, Flatten, GlobalAvgPool, Relu, Spec

BLOCK_ELEMENTS = 1 << 22
TILES_AHEAD = 8


class Kernels(NamedTuple):
    nngp: np.ndarray
    ntk: np.ndarray


def _conv(k):
    """sum over the 3x3 offsets d of k(p + d, p' + d), zero outside the image."""
    h, w = k.shape[-4:-2]
    pad = jnp.pad(k, [(0, 0)] * (k.ndim - 4) + [(1, 1)] * 4)
    return sum(pad[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def _avg_pool(k):
    *lead, h, w, h2, w2 = k.shape
    return k.reshape(*lead, h // 2, 2, w // 2, 2, h2 // 2, 2, w2 // 2, 2).mean(axis=(-7, -5, -3, -1))


def _flatten(k):
    *lead, h, w, _, _ = k.shape
    return jnp.diagonal(k.reshape(*lead, h * w, h * w), axis1=-2, axis2=-1).mean(-1)


def _relu(nngp, ntk, var1, var2):
    norm = jnp.sqrt(var1 * var2)
    cos = nngp / norm
    # An input paired with itself reaches here as 1 - a few ulps (its covariance and its
    # variance are summed in different orders); arccos' infinite slope at 1 would turn that
    # into a 1e-4 relative error of the NTK's diagonal in float32. Within 4 ulps, it is 1.
    cos = jnp.where(cos > 1 - 4 * jnp.finfo(cos.dtype).eps, 1.0, jnp.clip(cos, -1.0, 1.0))
    theta = jnp.arccos(cos)
    t1 = norm * (jnp.sin(theta) + (jnp.pi - theta) * cos) / (2 * jnp.pi)
    return t1, ntk * (jnp.pi - theta) / (2 * jnp.pi)


def _recurse(spec, nngp, ntk, spatial: bool, variances):
    """Runs the layers on (nngp, ntk); `variances(i, nngp)` gives the broadcast variances
    of both inputs before the i-th ReLU."""
    relu = 0
    for layer in spec:
        if spatial != isinstance(layer, (Conv, AvgPool, GlobalAvgPool, Flatten)) and not isinstance(layer, Relu):
            raise ValueError(f"{type(layer).__name__} cannot follow here: Conv and pooling need "
                             "images (n, H, W, C); Dense needs vectors (Flatten or GlobalAvgPool first)")
        if isinstance(layer, (Dense, Conv)):
            w2, b2 = layer.W_std**2, layer.b_std**2
            if isinstance(layer, Conv):
                nngp, ntk = _conv(nngp) * (w2 / 9), _conv(ntk) * (w2 / 9)
            else:
                nngp, ntk = nngp * w2, ntk * w2
            nngp = nngp + b2
            ntk = ntk + nngp
        elif isinstance(layer, Relu):
            nngp, ntk = _relu(nngp, ntk, *variances(relu, nngp))
            relu += 1
        elif isinstance(layer, AvgPool):
            nngp, ntk = _avg_pool(nngp), _avg_pool(ntk)
        elif isinstance(layer, GlobalAvgPool):
            nngp, ntk = nngp.mean(axis=(-4, -3, -2, -1)), ntk.mean(axis=(-4, -3, -2, -1))
            spatial = False
        elif isinstance(layer, Flatten):
            nngp, ntk = _flatten(nngp), _flatten(ntk)
            spatial = False
        else:
            raise TypeError(f"no infinite-width kernel for layer {layer!r}")
    return nngp, ntk


def _input_cov(x1, x2, paired: bool):
    """x1 . x2 / channels, over pixel pairs: (n1, n2, H, W, H, W), or (n, H, W, H, W) for
    each input with itself when `paired`; (n1, n2) / (n,) for vectors."""
    c = x1.shape[-1]
    if x1.ndim == 2:
        return (jnp.sum(x1 * x2, -1) if paired else x1 @ x2.T) / c
    return jnp.einsum("nhwc,nHWc->nhwHW" if paired else "ahwc,bHWc->abhwHW", x1, x2) / c


@functools.partial(jax.jit, static_argnums=0)
def _self_variances(spec: Spec, x):
    """Each input's own variance before every ReLU: a list of (n,) or (n, H, W) arrays."""
    found = []

    def variances(i, nngp):
        var = nngp if x.ndim == 2 else _diagonal(nngp)
        found.append(var)
        return _expand(var, first=True, paired=True), _expand(var, first=False, paired=True)

    nngp = _input_cov(x, x, paired=True)
    _recurse(spec, nngp, jnp.zeros_like(nngp), x.ndim == 4, variances)
    return found


def _diagonal(k):
    *lead, h, w, _, _ = k.shape
    return jnp.diagonal(k.reshape(*lead, h * w, h * w), axis1=-2, axis2=-1).reshape(*lead, h, w)


def _expand(var, *, first: bool, paired: bool):
    """Broadcasts per-input variances against a pair covariance.

    Pair covariances are (n1, n2[, H, W, H, W]) or, when `paired`, (n[, H, W, H, W]).
    """
    if var.ndim == 1:
        if paired:
            return var
        return var[:, None] if first else var[None, :]
    lead = (slice(None),) if paired else ((slice(None), None) if first else (None, slice(None)))
    pixels = (slice(None), slice(None), None, None) if first else (None, None, slice(None), slice(None))
    return var[lead + pixels]


@functools.partial(jax.jit, static_argnums=0)
def _pair_kernels(spec: Spec, x1, x2, vars1, vars2):
    def variances(i, nngp):
        return (_expand(vars1[i], first=True, paired=False),
                _expand(vars2[i], first=False, paired=False))

    nngp = _input_cov(x1, x2, paired=False)
    return _recurse(spec, nngp, jnp.zeros_like(nngp), x1.ndim == 4, variances)


def kernels(spec: Spec, x1, x2=None, *, float64: bool = False, block: int | None = None) -> Kernels:
    """NNGP and NTK Gram blocks K(x1, x2) of the spec's infinite-width network.

    Args:
      spec: tuple of layers from `ntkbench.models`.
      x1, x2: inputs (n, d) or images (n, H, W, C); x2 defaults to x1.
      float64: compute in double precision (ill-conditioned solves need it).
      block: inputs per side of a tile of pairs; by default as many as keep a tile's
        pixel-pair covariance near 4M entries.

    Returns:
      `Kernels(nngp, ntk)` as numpy arrays of shape (n1, n2).
    """
    spec = tuple(spec)
    same = x2 is None
    dtype = np.float64 if float64 else np.float32
    x1 = np.asarray(x1, dtype)
    x2 = x1 if same else np.asarray(x2, dtype)
    pixels = math.prod(x1.shape[1:-1]) if x1.ndim > 2 else 1
    block = block or max(1, int(math.sqrt(BLOCK_ELEMENTS / pixels**2)))
    nngp = np.empty((len(x1), len(x2)), dtype)
    ntk = np.empty_like(nngp)

    def write(i, j, tile):
        a, b = np.asarray(tile[0]), np.asarray(tile[1])
        nngp[i:i + block, j:j + block], ntk[i:i + block, j:j + block] = a, b
        if same and i != j:
            nngp[j:j + block, i:i + block], ntk[j:j + block, i:i + block] = a.T, b.T

    with maybe_x64(float64):
        vars1 = [_self_variances(spec, x1[i:i + block]) for i in range(0, len(x1), block)]
        vars2 = vars1 if same else [_self_variances(spec, x2[j:j + block])
                                        for j in range(0, len(x2), block)]
        # JAX dispatches tiles asynchronously; reading each one only after the next few are
        # queued keeps the device busy while the host copies results out.
        pending = collections.deque()
        for bi, i in enumerate(range(0, len(x1), block)):
            for bj, j in enumerate(range(0, len(x2), block)):
                if not (same and bj < bi):
                    pending.append((i, j, _pair_kernels(spec, x1[i:i + block], x2[j:j + block],
                                                        vars1[bi], vars2[bj])))
                if len(pending) > TILES_AHEAD:
                    write(*pending.popleft())
        while pending:
            write(*pending.popleft())
    return Kernels(nngp, ntk)
