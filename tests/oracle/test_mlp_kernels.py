"""Our native MLP kernels and ENTK against neural-tangents' `kernel_fn` / `empirical_ntk_fn`."""

import jax
import jax.numpy as jnp
import neural_tangents as nt
import numpy as np
import pytest
from neural_tangents import stax

from ntkbench import models
from ntkbench._compat import x64
from ntkbench.kernels import empirical, infinite

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
SPECS = {
    "rmse-NN1": models.mlp([10_000]),
    "rmse-NN2": models.mlp([10_000, 10_000]),
    "deep-W2-b01": models.mlp([512] * 4, W_std=2**0.5, b_std=0.1),
}


def stax_twin(spec):
    layers = []
    for layer in spec:
        if isinstance(layer, models.Dense):
            layers.append(stax.Dense(layer.width, layer.W_std, layer.b_std, parameterization="ntk"))
        else:
            layers.append(stax.Relu())
    return stax.serial(*layers)


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    return rng.uniform(-5, 7, size=(20, 15)), rng.uniform(-5, 7, size=(9, 15))


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", SPECS)
def test_native_kernels_match_kernel_fn(points, name, dtype):
    spec = SPECS[name]
    x1, x2 = (p.astype(dtype) for p in points)
    ours = infinite.kernels(spec, x1, x2, float64=dtype == np.float64)
    with x64():
        _, _, kernel_fn = stax_twin(spec)
        want = kernel_fn(x1.astype(np.float64), x2.astype(np.float64), ("nngp", "ntk"))
    assert _rel(ours.nngp, np.asarray(want.nngp)) < TOLERANCE[dtype]
    assert _rel(ours.ntk, np.asarray(want.ntk)) < TOLERANCE[dtype]


@pytest.mark.parametrize("widths", [[64], [32, 48]])
def test_entk_matches_empirical_ntk_fn(points, widths):
    spec = models.mlp(widths, W_std=1.2, b_std=0.3)
    net = models.network(spec)
    x1, x2 = (p.astype(np.float32) for p in points)
    params = net.init(jax.random.PRNGKey(0), jnp.asarray(x1))["params"]
    f = lambda p, x: net.apply({"params": p}, x)
    want = nt.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0)(x1, x2, params)
    np.testing.assert_allclose(empirical.ntk(spec, params, x1, x2), want, rtol=2e-5, atol=1e-5)
