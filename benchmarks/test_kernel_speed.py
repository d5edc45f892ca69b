"""Native infinite kernels vs neural-tangents' `kernel_fn` on the same inputs (oracle env).

Myrtle-5 NTK + NNGP of 32x32x3 images, float32; the ratio is measured within one run.
Run: NTKBENCH_ORACLE=1 .venv-oracle/bin/pytest benchmarks/test_kernel_speed.py -s
"""

import time

import numpy as np
import pytest

from ntkbench import models
from ntkbench.kernels import infinite

nt = pytest.importorskip("neural_tangents", reason="oracle environment only")


def test_myrtle5_native_vs_kernel_fn(benchmark, best_of):
    from neural_tangents import stax

    spec = models.myrtle(5)
    conv = dict(padding="SAME", W_std=2**0.5, b_std=0.0)
    group = lambda k: [stax.Conv(1, (3, 3), **conv), stax.Relu()] * k + [stax.AvgPool((2, 2), strides=(2, 2))]
    _, _, kernel_fn = stax.serial(*group(2), *group(1), *group(1), stax.AvgPool((2, 2), strides=(2, 2)),
                                  stax.AvgPool((2, 2), strides=(2, 2)), stax.Flatten(),
                                  stax.Dense(1, 2**0.5, 0.0))
    x = np.random.default_rng(0).normal(size=(16, 32, 32, 3)).astype(np.float32)
    theirs = nt.batch(kernel_fn, batch_size=4)
    want = theirs(x, x, ("nngp", "ntk"))
    got = infinite.kernels(spec, x, block=4)
    np.testing.assert_allclose(got.ntk, want.ntk, rtol=1e-4)


    benchmark.pedantic(lambda: infinite.kernels(spec, x, block=4), rounds=3, iterations=1)
    reference = best_of(lambda: np.asarray(theirs(x, x, ("nngp", "ntk")).ntk))
    ratio = reference / benchmark.stats.stats.min
    benchmark.extra_info["native_vs_kernel_fn"] = ratio
    print(f"\nMyrtle-5 32x32, 16x16 pairs: native {benchmark.stats.stats.min:.2f} s, "
          f"kernel_fn {reference:.2f} s, ratio {ratio:.2f}x")


def test_entk_native_vs_empirical_ntk_fn(benchmark):
    """ENTK Gram of a width-512, 2-hidden-layer MLP on 1000 points: ours vs nt's."""
    import jax

    spec = models.mlp([512, 512], W_std=2**0.5, b_std=0.1)
    net = models.network(spec)
    x = np.random.default_rng(0).normal(size=(1000, 20)).astype(np.float32)
    params = net.init(jax.random.PRNGKey(0), x[:1])["params"]
    from ntkbench.kernels import empirical

    theirs = nt.batch(nt.empirical_ntk_fn(lambda p, x: net.apply({"params": p}, x), trace_axes=(),
                                          vmap_axes=0), batch_size=250)
    np.testing.assert_allclose(empirical.ntk(spec, params, x), theirs(x, None, params), rtol=1e-4, atol=1e-3)
    benchmark.pedantic(lambda: empirical.ntk(spec, params, x), rounds=3, iterations=1)
    start = time.perf_counter()
    np.asarray(theirs(x, None, params))
    ratio = (time.perf_counter() - start) / benchmark.stats.stats.min
    benchmark.extra_info["entk_native_vs_empirical_ntk_fn"] = ratio
    print(f"\nENTK 1000 x 1000: ours {benchmark.stats.stats.min:.2f} s, ratio {ratio:.2f}x")
