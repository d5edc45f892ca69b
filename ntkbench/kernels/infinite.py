"""Native infinite-width NNGP and NTK of a spec, in plain JAX.

The recursion runs layer by layer on the covariance of a pair of inputs (nngp) and the
NTK; for images both carry a pair of pixel positions, shape (..., H, W, H, W), for signals
(n, L, C) a pair of sample positions, shape (..., L, L):
  Dense:          nngp <- W^2 nngp + b^2,                       ntk <- W^2 ntk + nngp
  Conv 3x3 SAME:  nngp <- W^2 / 9 sum_d nngp(p + d, p' + d) + b^2, ntk likewise + nngp
                  (Conv1D: the 3 offsets d of a signal, W^2 / 3)
  ReLU:           nngp <- T(nngp),                              ntk <- ntk * T'(nngp)
  AvgPool 2x2:    both averaged over the 2x2 blocks of p and of p' (AvgPool1D: 2 samples)
  GlobalAvgPool:  both averaged over all (p, p');  Flatten: over p = p'
with T, T' the arc-cosine maps of order 1 and 0 (Cho & Saul), which need each input's
own standard deviation at every pixel. Those come from a first pass over each input with
itself, once per input, not once per pair. Inputs enter as nngp = x1 . x2 / channels, ntk = 0.
A symmetric Gram computes its upper tiles only (and copies a diagonal tile's upper triangle
to its lower one); tiles go round-robin to every local device.

Where the time goes (benchmarks/test_kernel_stages.py, README "Benchmarks"): on a CPU the
arc-cosine maps bound the old recursion, not memory traffic; XLA's `arccos` costs some 50
multiplies per element. So the maps here need one polynomial arc-cosine and two square
roots per pixel pair: theta enters only through pi - theta and sin(theta) = sqrt(1 - cos^2),
and the per-pixel scales 1 / sqrt(var) are computed once per input. The 3x3 convolution is
nine slices of one padded copy (a 3-tap one three), and each convolution and pooling is an
XLA program of its own, as fusing them with their neighbours measured slower on a CPU.
Signals and images share this code: it works on any number of spatial axes, `dims`.

References:
  Cho, Saul, "Kernel methods for deep learning", NeurIPS 2009.
  Jacot, Gabriel, Hongler, "Neural Tangent Kernel", NeurIPS 2018.
  Novak et al., "Bayesian deep convolutional networks with many channels are Gaussian
  processes", ICLR 2019; Arora et al., "On exact computation with an infinitely wide
  neural net", NeurIPS 2019.
  Abramowitz, Stegun, "Handbook of Mathematical Functions" (1964), eq. 4.4.46: arccos
  on [0, 1] as sqrt(1 - x) times a degree-7 polynomial, |error| <= 2e-8 (float32 here).
  Sun Microsystems' fdlibm, e_acos.c (as in FreeBSD msun and musl): arccos through a
  rational approximation of arcsin on [0, 0.5], error below one ulp (float64 here).
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ntkbench._compat import maybe_x64
from ntkbench.models import AvgPool, AvgPool1D, Conv, Conv1D, Dense, Flatten, GlobalAvgPool, Relu, Spec

# Bytes of a tile's pixel-pair covariance. On a CPU: small enough that a tile's arrays stay
# in a core's L2 cache (2 MiB here) from one stage to the next, large enough that
# dispatching a tile's programs costs little; measured, 1 MiB is within 5% of the best for
# 8x8 and 1 x 40 images and MLPs, and twice as fast as 16 MiB tiles for 8x8 images
# (benchmarks/test_kernel_stages.py::test_tile_size). Elsewhere (GPU, TPU; not measured)
# the 16 MiB the kernels always used, which keep an accelerator's cores busy.
TILE_BYTES = 1 << 20
ACCELERATOR_TILE_BYTES = 1 << 24
TILES_AHEAD = 8

# Abramowitz & Stegun 4.4.46: arccos(x) = sqrt(1 - x) * sum_k a_k x^k on [0, 1].
_AS_ACOS = (1.5707963050, -0.2145988016, 0.0889789874, -0.0501743046,
            0.0308918810, -0.0170881256, 0.0066700901, -0.0012624911)
# fdlibm e_acos.c: arcsin(s) = s + s * R(s^2) on [0, 0.5], R(z) = z P(z) / Q(z).
_FDLIBM_P = (1.66666666666666657415e-01, -3.25565818622400915405e-01, 2.01212532134862925881e-01,
             -4.00555345006794114027e-02, 7.91534994289814532176e-04, 3.47933107596021167570e-05)
_FDLIBM_Q = (1.0, -2.40339491173441421878e+00, 2.02094576023350569471e+00,
             -6.88283971605453293030e-01, 7.70381505559019352791e-02)


class Kernels(NamedTuple):
    nngp: np.ndarray
    ntk: np.ndarray


def _horner(coefficients, x):
    out = jnp.full_like(x, coefficients[-1])
    for c in coefficients[-2::-1]:
        out = out * x + c
    return out


def _acos_unit(a):
    """arccos(a) for a in [0, 1], from multiplies, one square root and (float64) a division:
    vectorisable, unlike XLA's CPU arccos, and accurate in relative terms near a = 1, where
    arccos(a) ~ sqrt(2 (1 - a)) (nearly parallel inputs, the diagonal)."""
    if a.dtype == jnp.float32:
        return jnp.sqrt(1 - a) * _horner(_AS_ACOS, a)
    big = a > 0.5
    z = jnp.where(big, 0.5 * (1 - a), a * a)
    s = jnp.where(big, jnp.sqrt(z), a)
    asin = s + s * (z * _horner(_FDLIBM_P, z) / _horner(_FDLIBM_Q, z))
    return jnp.where(big, 2 * asin, jnp.pi / 2 - asin)


def acos(x):
    """arccos(x) on [-1, 1]: `_acos_unit` and arccos(-x) = pi - arccos(x). Float32 within
    3e-7, float64 within 4e-16 of the true value, relative (tests/test_infinite.py)."""
    x = jnp.asarray(x)
    a = _acos_unit(jnp.abs(x))
    return jnp.where(x < 0, jnp.pi - a, a)


def _relu(nngp, ntk, scale1, scale2):
    """The arc-cosine maps of order 1 (nngp) and 0 (ntk; None: not wanted). `scale1`,
    `scale2` are each input's (standard deviation, 1 / standard deviation), broadcast
    against the pair."""
    (sd1, inv1), (sd2, inv2) = scale1, scale2
    cos = nngp * (inv1 * inv2)  # commutes: K(x, x') and K(x', x) agree to the bit
    # An input paired with itself reaches here as 1 +- a few ulps (var * (1 / sqrt(var))^2
    # rounds); arccos' infinite slope at 1 would turn that into a 1e-4 relative error of
    # the NTK's diagonal in float32. Within 4 ulps, it is 1.
    cos = jnp.where(cos > 1 - 4 * jnp.finfo(cos.dtype).eps, 1.0, jnp.maximum(cos, -1.0))
    a = jnp.abs(cos)
    acos_a = _acos_unit(a)
    pi_minus_theta = jnp.where(cos < 0, acos_a, jnp.pi - acos_a)
    sin_theta = jnp.sqrt((1 - a) * (1 + a))
    nngp = (sd1 * sd2) * (sin_theta + pi_minus_theta * cos) * (1 / (2 * jnp.pi))
    return nngp, None if ntk is None else ntk * pi_minus_theta * (1 / (2 * jnp.pi))


def _conv(k, dims: int):
    """sum over the offsets d in {-1, 0, 1}^dims of k(p + d, p' + d), zero outside the
    input: 3^dims slices of one zero-padded copy, summed in one loop. A side of one pixel
    is not padded and has no neighbours to add (a 1 x W image needs 3 offsets, not 9)."""
    sizes = k.shape[-dims:]
    pads = [(1, 1, 0) if n > 1 else (0, 0, 0) for n in sizes]
    # lax.pad, not jnp.pad: jax 0.4's jnp.pad copies the array once per padded axis
    pad = lax.pad(k, jnp.zeros((), k.dtype), [(0, 0, 0)] * (k.ndim - 2 * dims) + pads * 2)
    offsets = itertools.product(*[(-1, 0, 1) if n > 1 else (0,) for n in sizes])
    windows = (tuple(slice(p[0] + d, p[0] + d + n) for p, d, n in zip(pads, ds, sizes)) for ds in offsets)
    return sum(pad[(..., *w, *w)] for w in windows)


def _avg_pool(k, dims: int):
    """Mean over the 2^dims blocks of p and of p', as 4^dims strided slices summed in one
    vectorised loop (a reshaped mean is a reduction loop, measured 2-4x slower)."""
    starts = itertools.product((0, 1), repeat=2 * dims)
    return sum(k[(..., *(slice(a, None, 2) for a in start))] for start in starts) / 4**dims


def _global_avg_pool(k, dims: int):
    return k.mean(axis=tuple(range(-2 * dims, 0)))


def _flatten(k, dims: int):
    return _diagonal(k, dims).mean(axis=tuple(range(-dims, 0)))


def _diagonal(k, dims: int):
    """k(p, p) of a pair covariance (..., *sizes, *sizes): shape (..., *sizes)."""
    lead, sizes = k.shape[:-2 * dims], k.shape[-dims:]
    n = math.prod(sizes)
    return jnp.diagonal(k.reshape(*lead, n, n), axis1=-2, axis2=-1).reshape(*lead, *sizes)


_SPATIAL = (Conv, Conv1D, AvgPool, AvgPool1D)
_ALONE = _SPATIAL + (GlobalAvgPool, Flatten)
_POOLS = {AvgPool: _avg_pool, AvgPool1D: _avg_pool, GlobalAvgPool: _global_avg_pool, Flatten: _flatten}
_KERNEL_LAYERS = (Dense, Relu) + _ALONE


def has_kernel(spec: Spec) -> bool:
    """Whether every layer of `spec` has an infinite-width kernel here (models.Tanh has none)."""
    return all(isinstance(layer, _KERNEL_LAYERS) for layer in spec)


def _check_fits(layer, dims: int):
    """Raises if `layer` cannot take inputs with `dims` spatial axes."""
    if isinstance(layer, _SPATIAL):
        fits, needs = dims == layer.dims, {1: "signals (n, L, C)", 2: "images (n, H, W, C)"}[layer.dims]
    elif isinstance(layer, (GlobalAvgPool, Flatten)):
        fits, needs = dims > 0, "images or signals"
    elif isinstance(layer, Dense):
        fits, needs = dims == 0, "vectors (Flatten or GlobalAvgPool first)"
    elif isinstance(layer, Relu):
        fits, needs = True, ""
    else:
        raise TypeError(f"no infinite-width kernel for layer {layer!r}")
    if not fits:
        raise ValueError(f"{type(layer).__name__} cannot follow here: it needs {needs}, "
                         f"and its inputs have {dims} spatial axes")


def _spread(layer, k, dims: int):
    """A weighted layer's map of k: W^2 k (Dense), W^2 / 3^dims times `_conv` (Conv, Conv1D)."""
    if isinstance(layer, Dense):
        return k * layer.W_std**2
    return _conv(k, dims) * (layer.W_std**2 / 3**layer.dims)


def _recurse(layers, nngp, ntk, scales, *, pairs: int, track_ntk: bool = True):
    """Runs `layers` on (nngp, ntk); ntk None stands for zero (before the first weighted
    layer there is nothing to convolve), and stays None when not `track_ntk`. The first
    `pairs` axes index inputs: 2 for pairs (n1, n2, ...), 1 for each input with itself.
    `scales(i, nngp)` gives both inputs' broadcast (sd, 1 / sd) before the i-th ReLU here."""
    dims = (nngp.ndim - pairs) // 2
    relu = 0
    for layer in layers:
        _check_fits(layer, dims)
        if isinstance(layer, (Dense, Conv, Conv1D)):
            nngp = _spread(layer, nngp, dims) + layer.b_std**2
            if track_ntk:
                ntk = nngp if ntk is None else _spread(layer, ntk, dims) + nngp
        elif isinstance(layer, Relu):
            scale1, scale2 = scales(relu, nngp)
            nngp, ntk = _relu(nngp, jnp.zeros_like(nngp) if ntk is None and track_ntk else ntk, scale1, scale2)
            relu += 1
        else:
            pool = _POOLS[type(layer)]
            nngp, ntk = pool(nngp, dims), None if ntk is None else pool(ntk, dims)
            dims = dims if isinstance(layer, (AvgPool, AvgPool1D)) else 0
    return nngp, ntk


def _segments(spec: Spec) -> list[Spec]:
    """The spec cut into parts that each run as one XLA program: a Conv alone, each
    pooling alone, and runs of Dense and ReLU layers. Within one program XLA's CPU fusion
    would recompute a convolution's input (a ReLU's arc-cosine maps) for each of the nine
    neighbours it reads, and run a ReLU inside a pooling's reduction loop, where it does not
    vectorise: a whole spec as one program measured several times slower than its parts
    (benchmarks/test_kernel_stages.py::test_one_program_vs_parts)."""
    parts: list[list] = []
    for i, layer in enumerate(spec):
        if not parts or isinstance(layer, _ALONE) or isinstance(spec[i - 1], _ALONE):
            parts.append([])
        parts[-1].append(layer)
    return [tuple(part) for part in parts]


def _relus(layers) -> int:
    return sum(isinstance(layer, Relu) for layer in layers)


@functools.partial(jax.jit, static_argnums=2)
def _input_cov(x1, x2, paired: bool):
    """x1 . x2 / channels, over pixel pairs: (n1, n2, H, W, H, W), or (n, H, W, H, W) for
    each input with itself when `paired`; (n1, n2, L, L) / (n, L, L) for signals, (n1, n2) /
    (n,) for vectors. Summed channel by
    channel in a fixed order, not by a matrix product, whose order (and last bits) can
    depend on the tile's shape, and which XLA's CPU backend runs slowly for an image's
    few channels; an entry does not depend on the tile it is computed in."""
    if x1.ndim == 2:
        return jnp.sum(x1 * x2 if paired else x1[:, None] * x2[None], -1) / x1.shape[-1]
    axes, new = (slice(None),) * (x1.ndim - 2), (None,) * (x1.ndim - 2)
    lead1, lead2 = ((slice(None),), (slice(None),)) if paired else ((slice(None), None), (None, slice(None)))
    a, b = x1[(*lead1, *axes, *new)], x2[(*lead2, *new)]
    channels = x1.shape[-1]
    return sum(a[..., c] * b[..., c] for c in range(channels)) / channels


@functools.partial(jax.jit, static_argnums=0)
def _self_segment(layers: Spec, nngp):
    """`layers` on each input with itself: the nngp after them, and each input's own
    (sd, 1 / sd) before every ReLU among them, (n,), (n, L) or (n, H, W) arrays. A zero variance
    gets 1 / sd = 0, so that its covariances (all zero) map to zero rather than to 0 / 0."""
    found = []

    def scales(i, k):
        var = k if k.ndim == 1 else _diagonal(k, (k.ndim - 1) // 2)
        sd = jnp.sqrt(var)
        inv = jnp.where(var > 0, 1 / jnp.where(var > 0, sd, 1), 0)
        found.append((sd, inv))
        return _expand((sd, inv), first=True, paired=True), _expand((sd, inv), first=False, paired=True)

    nngp, _ = _recurse(layers, nngp, None, scales, pairs=1, track_ntk=False)
    return nngp, found


def _self_scales(spec: Spec, x) -> list:
    """Each input's own (sd, 1 / sd) before every ReLU of the spec (`_self_segment`)."""
    nngp, found = _input_cov(x, x, True), []
    for layers in _segments(spec):
        nngp, new = _self_segment(layers, nngp)
        found += new
    return found


def _expand(scale, *, first: bool, paired: bool):
    """Broadcasts per-input arrays against a pair covariance.

    Pair covariances are (n1, n2, *sizes, *sizes) or, when `paired`, (n, *sizes, *sizes),
    with sizes () for vectors, (L,) for signals, (H, W) for images; per-input arrays are
    (n, *sizes).
    """
    axes, new = (slice(None),) * (scale[0].ndim - 1), (None,) * (scale[0].ndim - 1)
    lead = (slice(None),) if paired else ((slice(None), None) if first else (None, slice(None)))
    index = lead + ((*axes, *new) if first else (*new, *axes))
    return tuple(s[index] for s in scale)


@functools.partial(jax.jit, static_argnums=0)
def _pair_segment(layers: Spec, nngp, ntk, scales1, scales2):
    """(nngp, ntk) after `layers`, or (nngp,) where the ntk equals the nngp (after a first
    weighted layer), so that the caller shares one array instead of a copy."""
    def scales(i, _):
        return _expand(scales1[i], first=True, paired=False), _expand(scales2[i], first=False, paired=False)

    nngp, ntk = _recurse(layers, nngp, ntk, scales, pairs=2)
    return (nngp,) if ntk is nngp else (nngp, ntk)


def _pair_kernels(spec: Spec, x1, x2, scales1, scales2):
    """The (nngp, ntk) tile of x1 against x2, given their `_self_scales`; one program per
    `_segments` part, dispatched asynchronously."""
    nngp, ntk, relu = _input_cov(x1, x2, False), None, 0
    for layers in _segments(spec):
        k = _relus(layers)
        out = _pair_segment(layers, nngp, ntk, scales1[relu:relu + k], scales2[relu:relu + k])
        nngp, ntk = out if len(out) == 2 else (out[0], out[0])
        relu += k
    return nngp, jnp.zeros_like(nngp) if ntk is None else ntk


def block_size(shape: tuple[int, ...], itemsize: int, platform: str = "cpu") -> int:
    """Inputs per side of a tile for inputs of `shape` (one input's) on `platform`, so that
    a tile's pixel-pair covariance takes about `TILE_BYTES` (`ACCELERATOR_TILE_BYTES`)."""
    pixels = math.prod(shape[:-1]) if len(shape) > 1 else 1
    budget = TILE_BYTES if platform == "cpu" else ACCELERATOR_TILE_BYTES
    return max(1, int(math.sqrt(budget / (pixels**2 * itemsize))))


def kernels(spec: Spec, x1, x2=None, *, float64: bool = False, block: int | None = None,
            devices: Sequence[jax.Device] | None = None) -> Kernels:
    """NNGP and NTK Gram blocks K(x1, x2) of the spec's infinite-width network.

    Args:
      spec: tuple of layers from `ntkbench.models`.
      x1, x2: inputs (n, d), signals (n, L, C) or images (n, H, W, C); x2 defaults to x1.
      float64: compute in double precision (ill-conditioned solves need it).
      block: inputs per side of a tile of pairs; by default `block_size`'s for the devices.
      devices: where tiles run, round-robin; by default every local device of JAX's
        default backend (all GPUs of a node). Every device runs the same program on the
        same tiles, so the result is bit-identical to one device's.

    Returns:
      `Kernels(nngp, ntk)` as numpy arrays of shape (n1, n2).
    """
    spec = tuple(spec)
    same = x2 is None
    dtype = np.float64 if float64 else np.float32
    x1 = np.asarray(x1, dtype)
    x2 = x1 if same else np.asarray(x2, dtype)
    devices = list(devices or jax.local_devices())
    block = block or block_size(x1.shape[1:], x1.itemsize, devices[0].platform)
    nngp = np.empty((len(x1), len(x2)), dtype)
    ntk = np.empty_like(nngp)

    def write(i, j, tile):
        a, b = np.asarray(tile[0]), np.asarray(tile[1])
        if same and i == j:  # K(x, x') and K(x', x) may differ in the last bit: mirror one
            a, b = (np.triu(t) + np.triu(t, 1).T for t in (a, b))
        nngp[i:i + block, j:j + block], ntk[i:i + block, j:j + block] = a, b
        if same and i != j:
            nngp[j:j + block, i:i + block], ntk[j:j + block, i:i + block] = a.T, b.T

    with maybe_x64(float64):
        rows = range(0, len(x1), block)
        cols = range(0, len(x2), block)
        scales1 = [_self_scales(spec, x1[i:i + block]) for i in rows]
        scales2 = scales1 if same else [_self_scales(spec, x2[j:j + block]) for j in cols]
        tiles = [(bi, bj) for bi in range(len(rows)) for bj in range(len(cols)) if not (same and bj < bi)]
        # JAX dispatches tiles asynchronously; reading each one only after the next few are
        # queued keeps every device busy while the host copies results out.
        pending = collections.deque()
        for t, (bi, bj) in enumerate(tiles):
            i, j = rows[bi], cols[bj]
            args = jax.device_put((x1[i:i + block], x2[j:j + block], scales1[bi], scales2[bj]),
                                  devices[t % len(devices)])
            pending.append((i, j, _pair_kernels(spec, *args)))
            if len(pending) > TILES_AHEAD * len(devices):
                write(*pending.popleft())
        while pending:
            write(*pending.popleft())
    return Kernels(nngp, ntk)
