"""Engine speed as ratios measured in one run: one Gram for a whole n-grid, closed-form
trajectories, the layerwise MLP ENTK, Jacobians once per block, the native kernels'
throughput on the current stack, and seeds trained together."""

import time

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import kernel_train, models, train
from ntkbench.data import tasks
from ntkbench.kernels import empirical, infinite


def _curve(k, n_grid, y_pool, y_test, steps):
    n_max = n_grid[-1]
    return [kernel_train.zero_one_error(kernel_train.gd_trajectory(
        k[:n, :n], k[n_max:, :n], y_pool[:n], lr=1.0, momentum=0.9, steps=steps), y_test).min()
        for n in n_grid]


def test_one_gram_for_the_whole_grid(benchmark, best_of):
    """Learning curve of the infinite NTK over 6 nested sizes: one Gram vs one per size."""
    spec = models.mlp([1, 1], W_std=2**0.5, b_std=0.1)
    task = tasks.xor_task(2048, 1000)
    grid, steps = tasks.nested_grid(64, 2048, 6), kernel_train.schedule(10_000, 12)
    x = np.concatenate([task.x_pool, task.x_test])

    def one_gram():
        return _curve(infinite.kernels(spec, x).ntk, grid, task.y_pool, task.y_test, steps)

    def per_size():
        out = []
        for n in grid:
            xs = np.concatenate([task.x_pool[:n], task.x_test])
            out.append(_curve(infinite.kernels(spec, xs).ntk, [n], task.y_pool, task.y_test, steps)[0])
        return out

    assert one_gram() == per_size()
    benchmark.pedantic(one_gram, rounds=3, iterations=1)
    ratio = best_of(per_size) / benchmark.stats.stats.min
    benchmark.extra_info["one_gram_vs_per_size"] = ratio
    print(f"\none Gram for the grid: {ratio:.2f}x faster than a Gram per size")


def test_closed_form_vs_stepping(benchmark):
    """Full-batch heavy-ball GD at 20 stopping times up to 20,000 steps, n = 1024."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 10))
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 20)
    y = np.sign(x[:1024, 0])
    steps = kernel_train.schedule(20_000, 20)

    def stepping():
        a, v, out = np.zeros(1024), np.zeros(1024), []
        for t in range(1, steps[-1] + 1):
            v = 2 * (k[:1024, :1024] @ a - y) / 1024 + 0.9 * v
            a -= 0.5 * v
            if t in steps:
                out.append(k[1024:, :1024] @ a)
        return np.array(out)

    closed = benchmark(lambda: kernel_train.gd_trajectory(k[:1024, :1024], k[1024:, :1024], y,
                                                          lr=0.5, momentum=0.9, steps=steps))
    start = time.perf_counter()
    stepped = stepping()
    ratio = (time.perf_counter() - start) / benchmark.stats.stats.min
    np.testing.assert_allclose(closed, stepped, rtol=1e-6, atol=1e-8)
    benchmark.extra_info["closed_form_vs_stepping"] = ratio
    print(f"\nclosed-form trajectory: {ratio:.1f}x faster than stepping")


def test_native_kernel_throughput(benchmark, best_of):
    """Kernel entries per second on this stack, in the tiles the claims use: Myrtle-5 at
    32x32 (8 x 8 distinct images) and the RMSE MLP. Where the time goes, stage by stage:
    benchmarks/test_kernel_stages.py."""
    spec = tuple(models.myrtle(5))
    x1, x2 = np.random.default_rng(0).normal(size=(2, 8, 32, 32, 3)).astype(np.float32)
    infinite.kernels(spec, x1, x2)
    benchmark.pedantic(lambda: infinite.kernels(spec, x1, x2), rounds=2, iterations=1)
    myrtle = 64 / benchmark.stats.stats.min
    v = np.random.default_rng(0).normal(size=(1000, 15))
    mlp = 1e6 / best_of(lambda: infinite.kernels(models.mlp([1, 1]), v, float64=True))
    benchmark.extra_info.update(myrtle5_entries_per_s=myrtle, mlp2_f64_entries_per_s=mlp)
    print(f"\nMyrtle-5 32x32: {myrtle:.1f} entries/s ({jax.device_count()} {jax.default_backend()} "
          f"device(s)); 2-layer MLP, float64: {mlp:.3g} entries/s")


def test_layerwise_mlp_entk_vs_jacobian(benchmark, best_of):
    """ENTK Gram of a width-512, 2-hidden-layer MLP over 1500 points: per-layer factors vs
    explicit per-example Jacobians (both exact)."""
    spec = models.mlp([512, 512], W_std=2**0.5, b_std=0.1)
    x = tasks.xor_task(1500, 0).x_pool
    params = models.network(spec).init(jax.random.PRNGKey(0), x[:1])["params"]
    np.testing.assert_allclose(empirical.ntk(spec, params, x[:300]),
                               empirical.jacobian_ntk(spec, params, x[:300]), rtol=1e-4, atol=1e-4)
    benchmark.pedantic(lambda: empirical.ntk(spec, params, x), rounds=3, iterations=1)
    ratio = best_of(lambda: empirical.jacobian_ntk(spec, params, x), rounds=1) / benchmark.stats.stats.min
    benchmark.extra_info["layerwise_vs_jacobian"] = ratio
    print(f"\nlayerwise MLP ENTK: {ratio:.1f}x faster than Jacobian products")


def test_entk_jacobian_once_per_block(benchmark, best_of):
    """ENTK Gram of the quick 1-D Myrtle-5 at width 64 over 2048 signals, B = 8 blocks of
    256: each block's Jacobian once vs a panel of one block (a row block's Jacobian again
    for every column block, as before issue 29); the same Gram."""
    spec = models.myrtle1d(width=64)
    x = np.random.default_rng(0).normal(size=(2048, 40, 1)).astype(np.float32)
    params = models.network(spec).init(jax.random.PRNGKey(0), x[:1])["params"]
    one_block = 4 * 256 * sum(p.size for p in jax.tree.leaves(params))
    np.testing.assert_array_equal(empirical.jacobian_ntk(spec, params, x[:600]),
                                  empirical.jacobian_ntk(spec, params, x[:600], memory=one_block))
    benchmark.pedantic(lambda: empirical.jacobian_ntk(spec, params, x), rounds=2, iterations=1)
    per_gram_block = best_of(lambda: empirical.jacobian_ntk(spec, params, x, memory=one_block), rounds=1)
    ratio = per_gram_block / benchmark.stats.stats.min
    benchmark.extra_info["jacobian_once_speedup"] = ratio
    print(f"\nENTK Jacobians once per block: {ratio:.2f}x faster than once per Gram block")


def test_seeds_vmapped_vs_one_after_another(benchmark, best_of):
    """Eight seeds of the quick protocol's network (2 x 64 MLP, n = 1024, batch 64, 2000
    steps, test outputs at 12 steps): one vmapped program vs eight runs. On a CPU core the
    work is the same and the ratio is near 1; on an accelerator one seed leaves it idle."""
    task = tasks.xor_task(1024, 1000)
    spec = models.mlp([64, 64], W_std=2**0.5, b_std=0.1)
    net = models.network(spec)
    keys = [jax.random.PRNGKey(s) for s in range(8)]
    inits = [net.init(k, task.x_pool[:1])["params"] for k in keys]
    kw = dict(lr=0.2, batch_size=64, epochs=train.epochs_for(2000, 1024, 64), momentum=0.9,
              eval_steps=kernel_train.schedule(2000, 12))

    def vmapped():
        return train.fit_mse_seeds(spec, jax.tree.map(lambda *p: jnp.stack(p), *inits), np.stack([task.x_pool] * 8),
                                   np.stack([task.y_pool] * 8), keys=jnp.stack(keys),
                                   eval_x=np.stack([task.x_test] * 8), **kw).eval_preds

    def one_after_another():
        return np.stack([train.fit_mse(spec, jax.tree.map(jnp.copy, p), task.x_pool, task.y_pool, key=k,
                                       eval_x=task.x_test, **kw).eval_preds for p, k in zip(inits, keys)])

    np.testing.assert_allclose(vmapped(), one_after_another(), rtol=1e-6)
    benchmark.pedantic(vmapped, rounds=3, iterations=1)
    ratio = best_of(one_after_another) / benchmark.stats.stats.min
    benchmark.extra_info["vmapped_seeds_speedup"] = ratio
    print(f"\n8 seeds vmapped: {ratio:.2f}x the speed of 8 runs one after another ({jax.default_backend()})")


def test_conv_as_taps_in_the_training_scan(benchmark, best_of):
    """Eight seeds of a two-layer 3-tap conv net (width 16, 40 samples, batch 64), 100 SGD
    steps in one `lax.scan` as `train` runs them: XLA's convolution vs `models.taps` times
    the kernel (what NTKConv uses on a CPU). Outside a loop the two run alike."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(8, 64, 40, 16)), jnp.float32)
    kernels = jnp.asarray(rng.normal(size=(8, 3, 16, 16)) * 0.1, jnp.float32)

    def xla(x, k):
        return jax.lax.conv_general_dilated(x, k, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC"))

    def as_taps(x, k):
        return models.taps(x, 1) @ k.reshape(-1, k.shape[-1])

    def trained(conv):
        grad = jax.vmap(jax.grad(lambda k, x: jnp.sum(jnp.tanh(conv(jnp.tanh(conv(x, k)), k)))))
        steps = jax.jit(lambda k: jax.lax.scan(lambda k, _: (k - 1e-4 * grad(k, x), None), k, None, length=100)[0])
        steps(kernels).block_until_ready()
        return lambda: steps(kernels).block_until_ready()

    xla_run, taps_run = trained(xla), trained(as_taps)
    np.testing.assert_allclose(taps_run(), xla_run(), rtol=1e-4, atol=1e-5)
    benchmark.pedantic(taps_run, rounds=3, iterations=1)
    ratio = best_of(xla_run) / benchmark.stats.stats.min
    benchmark.extra_info["conv_as_taps_speedup"] = ratio
    print(f"\nconv as taps in the training scan: {ratio:.1f}x faster than XLA's convolution ({jax.default_backend()})")
