"""The native infinite-width kernels against Monte-Carlo estimates from the flax network,
float64, exact symmetry, their arc-cosine, and tiles spread over several devices."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkbench import models
from ntkbench._compat import maybe_x64
from ntkbench.kernels import empirical, infinite


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 15))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _entks(spec, x, seeds):
    net = models.network(spec)
    return [empirical.ntk(spec, net.init(jax.random.PRNGKey(s), jnp.zeros((1,) + x.shape[1:]))["params"], x)
            for s in range(seeds)]


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("depth", [1, 2])
def test_entk_fluctuations_shrink_like_inverse_sqrt_width(x, depth):
    """Per-initialisation ENTK error ~ width^-1/2: 64x the width, 8x less (asserted: 3x)."""
    want = infinite.kernels(models.mlp([1] * depth), x, float64=True).ntk
    narrow = np.median([_rel(k, want) for k in _entks(models.mlp([64] * depth), x, 6)])
    wide = np.median([_rel(k, want) for k in _entks(models.mlp([4096] * depth), x, 6)])
    assert wide < narrow / 3 and wide < 0.03, (narrow, wide)


@pytest.mark.parametrize("depth", [1, 2])
def test_mean_entk_matches_native_ntk(x, depth):
    """The Monte-Carlo mean of the ENTK over initialisations approaches the NTK.

    At depth 1 the ENTK is unbiased at any width (8 draws: ~0.7% error). From depth 2 on
    its mean carries an O(depth / width) bias, measured here at about +1% for width 2048.
    """
    want = infinite.kernels(models.mlp([1] * depth), x, float64=True).ntk
    mean = np.mean(_entks(models.mlp([2048] * depth), x, 8), axis=0)
    assert _rel(mean, want) < 0.01 * depth


def test_nngp_matches_output_covariance(x):
    """The NNGP is the covariance of the outputs over random initialisations."""
    spec = models.mlp([256, 256])
    net = models.network(spec)
    outputs = jax.jit(jax.vmap(lambda k: net.apply(net.init(k, x), x)))
    keys = jax.random.split(jax.random.PRNGKey(0), 3000)
    outs = np.concatenate([np.asarray(outputs(k), np.float64) for k in np.split(keys, 6)])
    want = infinite.kernels(spec, x, float64=True).nngp
    np.testing.assert_allclose(outs.T @ outs / len(outs), want, atol=4 * np.abs(want).max() / np.sqrt(len(outs)))


def test_float32_agrees_with_float64(x):
    spec = models.mlp([1, 1, 1])
    k32, k64 = infinite.kernels(spec, x), infinite.kernels(spec, x, float64=True)
    assert k32.ntk.dtype == np.float32 and k64.ntk.dtype == np.float64
    np.testing.assert_allclose(k32.ntk, k64.ntk, rtol=1e-5)


@pytest.mark.parametrize("spec,shape", [
    (models.mlp([1, 1], W_std=2**0.5, b_std=0.1), (20,)),
    (models.cnn5(1), (6, 6, 3)),
], ids=["mlp", "cnn5"])
def test_float32_gram_diagonal_is_as_accurate_as_the_rest(spec, shape):
    """An input paired with itself sits at arccos' infinite slope; 2 ulps of rounding there
    once cost the NTK's diagonal 1.5e-4 in float32 (the rest: 1e-7)."""
    x = np.random.default_rng(3).normal(size=(300 if len(shape) == 1 else 12,) + shape)
    k32 = infinite.kernels(spec, x.astype(np.float32)).ntk
    k64 = infinite.kernels(spec, x, float64=True).ntk
    error = np.abs(k32 - k64) / np.abs(k64).max()
    assert np.diag(error).max() < 1e-6 and error.max() < 1e-6


def test_blocks_tile_the_gram(x):
    spec = models.mlp([1])
    whole = infinite.kernels(spec, x, float64=True)
    tiled = infinite.kernels(spec, x, float64=True, block=4)
    np.testing.assert_array_equal(whole.ntk, tiled.ntk)


CONV = (models.Conv(16, 1.3, 0.2), models.Relu(), models.AvgPool(), models.Conv(16, 1.1, 0.3),
        models.Relu(), models.Flatten(), models.Dense(1, 1.0, 0.5))


def _widen(spec, width):
    return tuple(type(layer)(width, layer.W_std, layer.b_std) if isinstance(layer, (models.Conv, models.Conv1D))
                 else layer for layer in spec)


CONV1D = (models.Conv1D(16, 1.3, 0.2), models.Relu(), models.AvgPool1D(), models.Conv1D(16, 1.1, 0.3),
          models.Relu(), models.Flatten(), models.Dense(1, 1.0, 0.5))


@pytest.mark.parametrize("spec,shape,seeds,tolerance", [
    (CONV, (4, 4, 2), 8, 0.02),
    (CONV1D, (8, 2), 8, 0.02),
    (models.myrtle1d(), (40, 1), 32, 0.03),
], ids=["images", "signals", "myrtle1d"])
def test_conv_entk_mean_matches_native_ntk(spec, shape, seeds, tolerance):
    """Monte-Carlo mean ENTK of conv networks at width 512 vs the native NTK (float64; the
    float32 NTK differs by 1e-7, far below the Monte-Carlo error): conv-pool-flatten on
    images and on signals, and the 1-D Myrtle-5. The deeper, globally pooled Myrtle
    fluctuates more (one draw: ~9% error, vs 2-4% for the 2-layer ones), so it averages 32
    draws (measured: 1.9%; 8 draws: 3.7%; width 2048, 8 draws: 1.0%)."""
    x = np.random.default_rng(2).normal(size=(5,) + shape).astype(np.float32)
    want = infinite.kernels(spec, x, float64=True).ntk
    narrow = _rel(np.mean(_entks(_widen(spec, 8), x, seeds), axis=0), want)
    wide = _rel(np.mean(_entks(_widen(spec, 512), x, seeds), axis=0), want)
    assert wide < tolerance and wide < narrow, (narrow, wide)


def test_dense_on_images_is_refused():
    x = np.zeros((2, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match="Dense cannot follow here"):
        infinite.kernels(models.mlp([3]), x)


@pytest.mark.parametrize("spec,shape,refused", [
    ((models.Conv1D(3),), (4, 4, 1), "Conv1D"),
    ((models.AvgPool(),), (8, 1), "AvgPool"),
    ((models.Conv1D(3), models.Relu(), models.Dense(1)), (8, 1), "Dense"),
], ids=["conv1d-on-images", "2d-pool-on-signals", "dense-on-signals"])
def test_layers_on_inputs_of_the_wrong_rank_are_refused(spec, shape, refused):
    with pytest.raises(ValueError, match=f"{refused} cannot follow here"):
        infinite.kernels(spec, np.ones((2,) + shape, np.float32))


def test_unknown_layer_is_refused():
    with pytest.raises(TypeError, match="no infinite-width kernel for layer 'pool'"):
        infinite.kernels(("pool",), np.ones((2, 8, 1), np.float32))


def test_signals_equal_one_row_images():
    """A signal's kernel equals that of the 1 x L image, whose 3x3 convolution sees only
    3 of its 9 taps: Conv1D with W_std equals Conv with sqrt(3) W_std (no pooling: a 2x2
    pool has no 1-row equivalent)."""
    def spec(conv, scale):
        return (conv(8, scale * 1.3, 0.2), models.Relu(), conv(8, scale * 1.1, 0.3), models.Relu(),
                models.GlobalAvgPool(), models.Dense(1, 1.0, 0.5))

    x = np.random.default_rng(6).normal(size=(6, 10, 2))
    signal = infinite.kernels(spec(models.Conv1D, 1.0), x, float64=True)
    image = infinite.kernels(spec(models.Conv, 3**0.5), x[:, None], float64=True)
    np.testing.assert_allclose(signal.ntk, image.ntk, rtol=1e-13)
    np.testing.assert_allclose(signal.nngp, image.nngp, rtol=1e-13)


def test_symmetric_tiles_mirror_the_full_computation():
    x = np.random.default_rng(3).normal(size=(7, 4, 4, 2)).astype(np.float32)
    sym = infinite.kernels(CONV, x, block=3)
    full = infinite.kernels(CONV, x, x.copy(), block=3)
    np.testing.assert_allclose(sym.ntk, full.ntk, rtol=1e-6)
    np.testing.assert_array_equal(sym.ntk, sym.ntk.T)


def test_entk_symmetric_tiles_match_cross_gram():
    spec = models.mlp([32])
    x = np.random.default_rng(4).normal(size=(9, 5)).astype(np.float32)
    params = models.network(spec).init(jax.random.PRNGKey(0), x)["params"]
    sym = empirical.jacobian_ntk(spec, params, x, block=4)
    np.testing.assert_allclose(sym, empirical.jacobian_ntk(spec, params, x, x.copy(), block=4), rtol=1e-5)
    np.testing.assert_array_equal(sym, sym.T)


@pytest.mark.parametrize("spec", [models.mlp([32, 16, 8], W_std=2**0.5, b_std=0.1),
                                  (models.Flatten(),) + models.mlp([24], out=1, b_std=0.0)],
                         ids=["mlp-3-hidden", "flatten-mlp"])
def test_layerwise_mlp_entk_equals_the_jacobian_product(spec):
    x = np.random.default_rng(5).normal(size=(11, 3, 2, 2)).astype(np.float32)
    x = x if isinstance(spec[0], models.Flatten) else x.reshape(11, -1)
    params = models.network(spec).init(jax.random.PRNGKey(1), x)["params"]
    want = empirical.jacobian_ntk(spec, params, x)
    np.testing.assert_allclose(empirical.ntk(spec, params, x), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(empirical.ntk(spec, params, x[:4], x[4:]), want[:4, 4:], rtol=1e-5, atol=1e-5)


_TWO_DEVICES = """
import numpy as np, jax
from ntkbench import models
from ntkbench.kernels import infinite

devices = jax.local_devices()
assert len(devices) == 2, devices
used = []
tile = infinite._pair_kernels
infinite._pair_kernels = lambda spec, x1, *rest: used.append(x1.devices()) or tile(spec, x1, *rest)
spec = (models.Conv(8, 1.3, 0.2), models.Relu(), models.AvgPool(), models.Conv(8, 1.1, 0.3),
        models.Relu(), models.Flatten(), models.Dense(1, 1.0, 0.5))
x = np.random.default_rng(0).normal(size=(9, 4, 4, 2))
for float64 in (False, True):
    for x2 in (None, x[:5]):
        both = infinite.kernels(spec, x, x2, block=3, float64=float64)
        one = infinite.kernels(spec, x, x2, block=3, float64=float64, devices=devices[:1])
        np.testing.assert_array_equal(both.ntk, one.ntk)
        np.testing.assert_array_equal(both.nngp, one.nngp)
assert set().union(*used) == set(devices), used
print("ok")
"""


def test_gram_spreads_over_every_local_device_bit_identically():
    """Tiles go round-robin to every local device (here two CPU devices, which JAX creates
    only if told before it starts: a subprocess), and the Gram equals one device's bit
    for bit."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", _TWO_DEVICES], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def _near_one():
    """[-1, 1] on a fine grid, and within 1e-16 .. 1e-1 of -1 and of 1."""
    gap = np.logspace(-16, -1, 2000)
    return np.concatenate([np.linspace(-1, 1, 200_001), 1 - gap, -1 + gap, [-1.0, 1.0]])


@pytest.mark.parametrize("dtype,tolerance", [(np.float32, 3e-7), (np.float64, 4e-16)], ids=["f32", "f64"])
def test_arc_cosine_matches_numpy_to_the_dtype(dtype, tolerance):
    """The vectorised arccos against numpy's (in float64) on its own input, relative error:
    near 1 arccos(x) ~ sqrt(2 (1 - x)) is small, and stays accurate in relative terms."""
    x = _near_one().astype(dtype)
    with maybe_x64(dtype == np.float64):
        got = np.asarray(infinite.acos(x))
    assert got.dtype == dtype
    want = np.arccos(x.astype(np.float64))
    error = np.abs(got - want) / np.maximum(want, np.finfo(dtype).tiny)
    assert error[want > 0].max() < tolerance and np.all(got[want == 0] == 0)


def test_float32_arc_cosine_moves_no_kernel_entry_beyond_1e_6(monkeypatch):
    """The approximated arc-cosine against XLA's exact one, both in float32, on the entries
    where it is steepest: the diagonal and nearly parallel pairs (1 - cos near 1e-6)."""
    rng = np.random.default_rng(6)
    base = rng.normal(size=(6, 15))
    turned = base + 1.4e-3 * np.linalg.norm(base, axis=1, keepdims=True) / np.sqrt(15) * rng.normal(size=base.shape)
    images = rng.normal(size=(4, 4, 4, 2))
    cases = [(models.mlp([1] * 3, W_std=2**0.5, b_std=0.1), np.concatenate([base, turned])),
             (CONV, np.concatenate([images, images + 1e-3 * rng.normal(size=images.shape)]))]
    approximated = [infinite.kernels(spec, x.astype(np.float32)) for spec, x in cases]
    monkeypatch.setattr(infinite, "_acos_unit", jnp.arccos)
    jax.clear_caches()
    try:
        exact = [infinite.kernels(spec, x.astype(np.float32)) for spec, x in cases]
    finally:
        monkeypatch.undo()
        jax.clear_caches()
    for a, e in zip(approximated, exact):
        for got, want in ((a.nngp, e.nngp), (a.ntk, e.ntk)):
            assert np.max(np.abs(got - want) / np.abs(want)) < 1e-6


@pytest.mark.parametrize("cross", [False, True], ids=["symmetric", "cross"])
def test_entk_jacobians_are_computed_once_per_block_and_the_gram_ignores_the_budget(cross, monkeypatch):
    """7 blocks of 4 inputs: 7 Jacobians (14 for a cross Gram) when they fit, more when
    only two blocks fit, and the same Gram bit for bit."""
    spec = models.myrtle1d(width=4, depth=5)
    x = np.random.default_rng(6).normal(size=(27, 40, 1)).astype(np.float32)
    x2 = x[::-1].copy() if cross else None
    params = models.network(spec).init(jax.random.PRNGKey(2), x[:1])["params"]
    calls = []
    jacobian = empirical._jacobian
    monkeypatch.setattr(empirical, "_jacobian", lambda *a: calls.append(1) or jacobian(*a))
    whole = empirical.jacobian_ntk(spec, params, x, x2, block=4)
    assert len(calls) == (14 if cross else 7)
    per_block = 4 * 4 * sum(p.size for p in jax.tree.leaves(params))
    for blocks in (1, 2):
        calls.clear()
        np.testing.assert_array_equal(empirical.jacobian_ntk(spec, params, x, x2, block=4, memory=blocks * per_block),
                                      whole)
        assert len(calls) > (14 if cross else 7)
