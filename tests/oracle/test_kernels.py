"""Our native kernels and ENTK against neural-tangents' `kernel_fn` / `empirical_ntk_fn`."""

import jax
import jax.numpy as jnp
import neural_tangents as nt
import numpy as np
import pytest

from ntkbench import models
from ntkbench._compat import x64
from ntkbench.kernels import empirical, infinite
from ntkbench.kernels.nt_twin import stax_twin

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
SPECS = {
    "rmse-NN1": (models.mlp([10_000]), (15,)),
    "rmse-NN2": (models.mlp([10_000, 10_000]), (15,)),
    "deep-W2-b01": (models.mlp([512] * 4, W_std=2**0.5, b_std=0.1), (15,)),
    "myrtle5-32x32": (models.myrtle(5), (32, 32, 3)),
    "cnn5-8x8": (models.cnn5(), (8, 8, 3)),
    "conv-pool-flatten-4x4": ((models.Conv(8, 1.3, 0.2), models.Relu(), models.AvgPool(),
                               models.Conv(8, 1.1, 0.3), models.Relu(), models.Flatten(),
                               models.Dense(1, 1.0, 0.5)), (4, 4, 2)),
    "myrtle1d-40": (models.myrtle1d(), (40, 1)),
    "conv1d-pool-flatten-8": ((models.Conv1D(8, 1.3, 0.2), models.Relu(), models.AvgPool1D(),
                               models.Conv1D(8, 1.1, 0.3), models.Relu(), models.Flatten(),
                               models.Dense(1, 1.0, 0.5)), (8, 2)),
}
SIZES = {"myrtle5-32x32": (3, 2)}


def _points(name, seed=0):
    spec, shape = SPECS[name]
    n1, n2 = SIZES.get(name, (12, 7))
    rng = np.random.default_rng(seed)
    return rng.uniform(-5, 7, size=(n1,) + shape), rng.uniform(-5, 7, size=(n2,) + shape)


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", SPECS)
def test_native_kernels_match_kernel_fn(name, dtype):
    spec, _ = SPECS[name]
    x1, x2 = (p.astype(dtype) for p in _points(name))
    ours = infinite.kernels(spec, x1, x2, float64=dtype == np.float64)
    with x64():
        _, _, kernel_fn = stax_twin(spec)
        want = kernel_fn(x1.astype(np.float64), x2.astype(np.float64), ("nngp", "ntk"))
    assert _rel(ours.nngp, np.asarray(want.nngp)) < TOLERANCE[dtype]
    assert _rel(ours.ntk, np.asarray(want.ntk)) < TOLERANCE[dtype]


@pytest.mark.parametrize("name", ["deep-W2-b01", "cnn5-8x8", "myrtle1d-40"])
def test_native_gram_matches_kernel_fn(name):
    """K(x, x) in float32, its diagonal included (inputs paired with themselves)."""
    spec, _ = SPECS[name]
    x = _points(name)[0].astype(np.float32)
    ours = infinite.kernels(spec, x)
    with x64():
        want = stax_twin(spec)[2](x.astype(np.float64), None, ("nngp", "ntk"))
    assert _rel(ours.nngp, np.asarray(want.nngp)) < TOLERANCE[np.float32]
    assert _rel(ours.ntk, np.asarray(want.ntk)) < TOLERANCE[np.float32]
    assert _rel(np.diag(ours.ntk), np.diag(np.asarray(want.ntk))) < TOLERANCE[np.float32]


ENTK_SPECS = {
    "mlp-64": (models.mlp([64], W_std=1.2, b_std=0.3), (15,)),
    # batches of 64+ inputs: jax 0.4.25's jacrev got these wrong, so the ENTK uses vmap(grad)
    "mlp-256x2-150pts": (models.mlp([256, 256], W_std=2**0.5, b_std=0.1), (20,)),
    # 1000 inputs at once: jax 0.4.25 got the layerwise factors wrong, so they go in blocks
    "mlp-512x2-1000pts": (models.mlp([512, 512], W_std=2**0.5, b_std=0.1), (20,)),
    "mlp-32-48": (models.mlp([32, 48], W_std=1.2, b_std=0.3), (15,)),
    "conv-pool-flatten": ((models.Conv(16, 1.3, 0.2), models.Relu(), models.AvgPool(),
                           models.Conv(8, 1.1, 0.3), models.Relu(), models.Flatten(),
                           models.Dense(1, 1.0, 0.5)), (4, 4, 2)),
    "cnn5-w8": (models.cnn5(width=8), (6, 6, 3)),
    "myrtle1d-w8": (models.myrtle1d(width=8), (40, 1)),
    "tanh-mlp": ((models.Dense(32, 1.2, 0.3), models.Tanh(), models.Dense(1, 1.0, 0.5)), (15,)),
    "tanh-conv1d": ((models.Conv1D(8, 1.3, 0.2), models.Tanh(), models.GlobalAvgPool(), models.Dense(1)), (8, 2)),
    "conv1d-pool-flatten": ((models.Conv1D(16, 1.3, 0.2), models.Relu(), models.AvgPool1D(),
                             models.Conv1D(8, 1.1, 0.3), models.Relu(), models.Flatten(),
                             models.Dense(1, 1.0, 0.5)), (8, 2)),
}


@pytest.mark.parametrize("name", ENTK_SPECS)
def test_entk_matches_empirical_ntk_fn(name):
    spec, shape = ENTK_SPECS[name]
    net = models.network(spec)
    rng = np.random.default_rng(1)
    n1, n2 = {"150pts": (150, 70), "1000pts": (1000, 30)}.get(name.rsplit("-", 1)[-1], (9, 5))
    x1, x2 = rng.normal(size=(n1,) + shape).astype(np.float32), rng.normal(size=(n2,) + shape).astype(np.float32)
    params = net.init(jax.random.PRNGKey(0), jnp.asarray(x1))["params"]
    def f(p, x):
        return net.apply({"params": p}, x)

    want = nt.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0)(x1, x2, params)
    np.testing.assert_allclose(empirical.ntk(spec, params, x1, x2), want, rtol=2e-5, atol=1e-5)


def _nearly_parallel(name, n):
    """n inputs followed by a copy of each turned by an angle whose cosine is within 1e-6
    of 1 (1 - cos between 1e-7 and 1e-6): the Gram holds the diagonal (equal inputs) and
    nearly parallel pairs, where an approximated arc-cosine is steepest. Entries are
    multiples of 2^-12, so that every dot product is exact in float64 and kernel_fn's own
    diagonal is exact (from x . x by a matrix product and by a sum, it otherwise sees
    cos = 1 - 1 ulp, and arccos' slope makes that 3e-9 of the NTK)."""
    _, shape = SPECS[name]
    rng = np.random.default_rng(2)
    x = rng.integers(-10_000, 10_000, size=(n,) + shape).astype(np.float64)
    flat = x.reshape(n, -1)
    step = rng.normal(size=flat.shape)
    step *= (np.linalg.norm(flat, axis=1, keepdims=True) * np.sqrt(2 * 5e-7)
             / np.linalg.norm(step, axis=1, keepdims=True))
    turned = flat + np.round(step)
    cos = (flat * turned).sum(1) / np.linalg.norm(flat, axis=1) / np.linalg.norm(turned, axis=1)
    assert np.all((1 - cos > 1e-7) & (1 - cos < 1e-6)), 1 - cos
    return np.concatenate([x, turned.reshape(x.shape)]) / 2**12


GRAM_SIZES = {"myrtle5-32x32": 2}
# Float32 covariances resolve 1 - cos only to a few ulps (1e-7): nearly parallel pairs'
# angles (1e-3) carry a relative error of some 1e-2, and the NTK, through pi - theta, some
# 1e-4. The exact arccos did the same, and so does neural-tangents itself in float32
# (4e-5 to 1.7e-4 on these pairs); the arc-cosine's own error is tested against numpy's
# and against the exact arccos in float32 (tests/test_infinite.py).
NEARLY_PARALLEL_NTK_FLOAT32 = 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", SPECS)
def test_diagonal_and_nearly_parallel_pairs_match_kernel_fn(name, dtype):
    """K(x, x) of inputs and their nearly parallel copies: the diagonal and the nearly
    parallel entries each within the dtype's relative tolerance of kernel_fn's (float64)."""
    spec, _ = SPECS[name]
    n = GRAM_SIZES.get(name, 6)
    x = _nearly_parallel(name, n)
    ours = infinite.kernels(spec, x.astype(dtype), float64=dtype == np.float64)
    with x64():
        want = stax_twin(spec)[2](x, None, ("nngp", "ntk"))
    for kind, got, exact in (("nngp", ours.nngp, np.asarray(want.nngp)), ("ntk", ours.ntk, np.asarray(want.ntk))):
        diagonal = np.abs(np.diag(got) - np.diag(exact)) / np.abs(np.diag(exact))
        parallel = np.abs(np.diag(got[:n, n:]) - np.diag(exact[:n, n:])) / np.abs(np.diag(exact[:n, n:]))
        assert diagonal.max() < TOLERANCE[dtype], (kind, diagonal)
        loose = dtype == np.float32 and kind == "ntk"
        assert parallel.max() < (NEARLY_PARALLEL_NTK_FLOAT32 if loose else TOLERANCE[dtype]), (kind, parallel)
        assert _rel(got, exact) < (NEARLY_PARALLEL_NTK_FLOAT32 if loose else TOLERANCE[dtype]), kind
