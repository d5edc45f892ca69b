"""Native infinite kernels vs neural-tangents' `kernel_fn` on the same inputs (oracle env).

Myrtle-5 at 32x32 and the 5-layer CNN at 16x16 and 8x8 (Myrtle's five poolings need 32x32),
NTK + NNGP, float32; and the ENTK against `empirical_ntk_fn`. Ratios are measured within one run.
Run: NTKBENCH_ORACLE=1 .venv-oracle/bin/pytest benchmarks/test_kernel_speed.py -s
"""

import jax
import numpy as np
import pytest

from ntkbench import models
from ntkbench.kernels import empirical, infinite
from ntkbench.kernels.nt_twin import stax_twin

nt = pytest.importorskip("neural_tangents", reason="oracle environment only")


@pytest.mark.parametrize("name,spec,shape", [
    ("Myrtle-5 32x32", models.myrtle(5), (32, 32, 3)),
    ("5-layer CNN 16x16", models.cnn5(), (16, 16, 3)),
    ("5-layer CNN 8x8", models.cnn5(), (8, 8, 3)),
], ids=["myrtle5-32x32", "cnn5-16x16", "cnn5-8x8"])
def test_native_vs_kernel_fn(benchmark, best_of, name, spec, shape):
    """NTK + NNGP Gram of 16 images, float32: our native recursion vs nt's kernel_fn."""
    x = np.random.default_rng(0).normal(size=(16,) + shape).astype(np.float32)
    theirs = nt.batch(stax_twin(spec)[2], batch_size=4)
    want = theirs(x, x, ("nngp", "ntk"))
    np.testing.assert_allclose(infinite.kernels(spec, x, block=4).ntk, want.ntk, rtol=1e-4)
    benchmark.pedantic(lambda: infinite.kernels(spec, x, block=4), rounds=3, iterations=1)
    reference = best_of(lambda: np.asarray(theirs(x, x, ("nngp", "ntk")).ntk))
    ratio = reference / benchmark.stats.stats.min
    benchmark.extra_info["native_vs_kernel_fn"] = ratio
    print(f"\n{name}, 16x16 pairs: native {benchmark.stats.stats.min:.3f} s, "
          f"kernel_fn {reference:.3f} s, ratio {ratio:.2f}x")


@pytest.mark.parametrize("path", ["layerwise", "jacobian"])
def test_entk_native_vs_empirical_ntk_fn(benchmark, best_of, path):
    """ENTK Gram of a width-512, 2-hidden-layer MLP on 1000 points: ours (the per-layer
    factors MLPs get, or the Jacobian products any spec gets) vs nt's."""
    spec = models.mlp([512, 512], W_std=2**0.5, b_std=0.1)
    net = models.network(spec)
    x = np.random.default_rng(0).normal(size=(1000, 20)).astype(np.float32)
    params = net.init(jax.random.PRNGKey(0), x[:1])["params"]
    ours = {"layerwise": empirical.ntk, "jacobian": empirical.jacobian_ntk}[path]
    theirs = nt.batch(nt.empirical_ntk_fn(lambda p, x: net.apply({"params": p}, x), trace_axes=(),
                                          vmap_axes=0), batch_size=250)
    np.testing.assert_allclose(ours(spec, params, x), theirs(x, None, params), rtol=1e-4, atol=1e-3)
    benchmark.pedantic(lambda: ours(spec, params, x), rounds=3, iterations=1)
    ratio = best_of(lambda: np.asarray(theirs(x, None, params)), rounds=1) / benchmark.stats.stats.min
    benchmark.extra_info["entk_vs_empirical_ntk_fn"] = ratio
    print(f"\nENTK 1000 x 1000, {path}: ours {benchmark.stats.stats.min:.2f} s, ratio {ratio:.2f}x")
