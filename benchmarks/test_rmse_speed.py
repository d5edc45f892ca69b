"""Speed of the RMSE claim's parts, as ratios measured in one run (absolute times are noisy).

- kernel rows: our vectorised closed forms vs the reference's pair-by-pair evaluation;
- network training: one jitted scan over all epochs vs a jitted step dispatched per batch;
- store: a warm-cache re-run of the kernel cells vs computing them.
Each test records the ratio in pytest-benchmark's extra_info and prints it.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkbench import models, train
from ntkbench.claims import nn_vs_ntk_rmse as claim
from ntkbench.data.ntkb_simulation import simulate_trial
from ntkbench.kernels.closed_form import reference_kernels
from ntkbench.runner import Cell, Runner
from ntkbench.store import Store




def _record(benchmark, name, ratio, detail):
    benchmark.extra_info[name] = ratio
    print(f"\n{name}: {ratio:.1f}x ({detail})")


def test_closed_forms_vs_pairwise(benchmark, best_of):
    """All nine kernels on 60 x 60 pairs: vectorised vs the reference code's per-pair loop."""
    import math
    x = simulate_trial(0).x_train[:60]

    def pairwise():
        d = x.shape[1]
        out = np.empty((len(x), len(x)))
        for i, a in enumerate(x):
            for j, b in enumerate(x):
                k0x, k0y, k0xy = 1 + a @ a / d, 1 + b @ b / d, 1 + a @ b / d
                cos = k0xy / (k0x * k0y)
                delta = 0 if abs(cos) > 1 else math.acos(cos)
                out[i, j] = math.sqrt(k0x * k0y) / (2 * math.pi) * (math.sin(delta) + (math.pi - delta) * cos)
        return out

    ours = benchmark(lambda: reference_kernels(x, x))
    one_kernel_loop = best_of(pairwise)
    ratio = 9 * one_kernel_loop / benchmark.stats.stats.min
    _record(benchmark, "closed_forms_speedup", ratio,
            "nine kernels vectorised vs nine pair-by-pair loops like the reference's (one timed, x9)")
    assert set(ours) == set(claim.closed_form.NAMES) and ratio > 10


@pytest.mark.parametrize("width", [1024, 10_000])
def test_scanned_training_vs_python_loop(benchmark, best_of, width):
    """NN1 SGD (batch 8, 468 points, 5 epochs): our one-call scan vs a jitted step per batch."""
    spec = models.mlp([width])
    net = models.network(spec)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(468, 15)).astype(np.float32), rng.normal(size=468).astype(np.float32)
    params = net.init(jax.random.PRNGKey(0), x[:1])["params"]
    epochs, key = 5, jax.random.PRNGKey(1)

    @jax.jit
    def step(p, xb, yb):
        grads = jax.grad(lambda p: jnp.mean((net.apply({"params": p}, xb) - yb) ** 2))(p)
        return jax.tree.map(lambda a, g: a - 0.002 * g, p, grads)

    def python_loop():
        p = params
        for k in jax.random.split(key, epochs):
            perm = np.asarray(jax.random.permutation(k, 468))
            for b in range(0, 468, 8):
                p = step(p, x[perm[b:b + 8]], y[perm[b:b + 8]])
        return p

    def ours():
        return train.fit_mse(spec, jax.tree.map(jnp.copy, params), x, y, key=key, lr=0.002,
                             batch_size=8, epochs=epochs).params

    jax.block_until_ready((ours(), python_loop()))
    benchmark.pedantic(lambda: jax.block_until_ready(ours()), rounds=3, iterations=1)
    ratio = best_of(python_loop) / benchmark.stats.stats.min
    _record(benchmark, f"scan_vs_python_loop_w{width}", ratio,
            f"{benchmark.stats.stats.min / (epochs * 59) * 1e6:.0f} us/step ours")
    assert ratio > 1


def test_warm_cache_vs_compute(benchmark, tmp_path):
    """Kernel rows of 3 trials: a warm-cache re-run vs computing them."""
    cells = [Cell(f"{claim.CLAIM}.kernels", claim.kernel_trial, {"trial": i, "data_seed": 11342})
             for i in range(3)]
    runner = Runner(Store(tmp_path))
    start = time.perf_counter()
    runner.map(cells, "kernels")
    compute = time.perf_counter() - start
    benchmark(lambda: runner.map(cells, "kernels"))
    ratio = compute / benchmark.stats.stats.min
    _record(benchmark, "warm_cache_speedup", ratio, f"{compute:.2f} s computed")
    assert ratio > 20


def test_pinned_process_pool_vs_in_process(benchmark, tmp_path):
    """Six NN1 trials (width 4096, 300 epochs): the pinned spawn pool vs one after another."""
    cells = [Cell("bench.network", claim.network_trial,
                  dict(trial=i, data_seed=11342, init_seed=0, depth=1, width=4096, epochs=300,
                       lr=0.002, batch_size=8)) for i in range(6)]
    start = time.perf_counter()
    local = Runner(Store(None), "local").map(cells, "networks")
    in_process = time.perf_counter() - start
    runner = Runner(Store(None), "process")
    try:
        pooled = benchmark.pedantic(lambda: runner.map(cells, "networks"), rounds=1, iterations=1)
    finally:
        runner.close()
    ratio = in_process / benchmark.stats.stats.min
    _record(benchmark, "process_pool_speedup", ratio, f"{in_process:.1f} s in process, "
            f"{benchmark.stats.stats.min:.1f} s pooled incl. worker start-up")
    np.testing.assert_allclose([r["rmse"] for r in pooled], [r["rmse"] for r in local], rtol=1e-4)
