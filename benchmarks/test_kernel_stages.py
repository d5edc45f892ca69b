"""The native infinite kernels by stage, and against the recursion they replaced, in one run.

The reference is `reference_infinite.py`, a copy of ntkbench/kernels/infinite.py before
issue 17 (XLA's arccos in the ReLU, one program per tile, 4M-entry tiles). Ratios are
measured within one process; run pinned to one core for per-core figures:

    taskset -c 1 .venv/bin/pytest benchmarks/test_kernel_stages.py -s

Each test prints its table or ratio and records it in pytest-benchmark's extra_info.
"""

import jax
import numpy as np
import pytest
import reference_infinite as old

from ntkbench import models
from ntkbench._compat import maybe_x64
from ntkbench.kernels import infinite

CONV_POOL_FLATTEN = (models.Conv(8, 1.3, 0.2), models.Relu(), models.AvgPool(), models.Conv(8, 1.1, 0.3),
                     models.Relu(), models.Flatten(), models.Dense(1, 1.0, 0.5))
MLP = models.mlp([1, 1], W_std=2**0.5, b_std=0.1)


def _stage(layer) -> str:
    if isinstance(layer, (models.Conv, models.Dense)):
        return "conv" if isinstance(layer, models.Conv) else "dense"
    return "relu" if isinstance(layer, models.Relu) else "pool"


def _old_stages(best_time, spec, x1, x2):
    """Seconds per stage of the reference recursion on the tile x1 x x2, each layer jitted
    on its own (inside one program XLA fuses them; apart, each one's cost shows)."""
    times = {}
    nngp = jax.jit(old._input_cov, static_argnums=2)(x1, x2, False)
    times["input covariance"] = best_time(lambda: jax.jit(old._input_cov, static_argnums=2)(x1, x2, False))
    vars1, vars2 = old._self_variances(spec, x1), old._self_variances(spec, x2)
    times["variance pass (per input)"] = best_time(lambda: old._self_variances(spec, x1)) / len(x1)
    ntk, relu, spatial = jax.numpy.zeros_like(nngp), 0, x1.ndim == 4
    for layer in spec:
        def variances(i, _, r=relu):
            return (old._expand(vars1[r], first=True, paired=False), old._expand(vars2[r], first=False, paired=False))

        step = jax.jit(lambda n, t, s=spatial, v=variances, layer=layer: old._recurse((layer,), n, t, s, v))
        jax.block_until_ready(step(nngp, ntk))
        times[_stage(layer)] = times.get(_stage(layer), 0.0) + best_time(lambda: step(nngp, ntk))
        nngp, ntk = step(nngp, ntk)
        relu += isinstance(layer, models.Relu)
        spatial = spatial and not isinstance(layer, (models.Flatten, models.GlobalAvgPool))
    return times


def _new_stages(best_time, spec, x1, x2):
    """Seconds per stage of the library's recursion on the tile x1 x x2, one layer per
    program (as the library runs convolutions and poolings; it runs Dense-ReLU runs as one)."""
    times = {"input covariance": best_time(lambda: infinite._input_cov(x1, x2, False))}
    scales1, scales2 = infinite._self_scales(spec, x1), infinite._self_scales(spec, x2)
    times["variance pass (per input)"] = best_time(lambda: infinite._self_scales(spec, x1)) / len(x1)
    nngp, ntk, relu = infinite._input_cov(x1, x2, False), None, 0
    for layer in spec:
        k = int(isinstance(layer, models.Relu))
        args = ((layer,), nngp, ntk, scales1[relu:relu + k], scales2[relu:relu + k])
        times[_stage(layer)] = times.get(_stage(layer), 0.0) + best_time(lambda: infinite._pair_segment(*args))
        out = infinite._pair_segment(*args)
        nngp, ntk = out if len(out) == 2 else (out[0], out[0])
        relu += k
    return times


PROFILED = {
    "Myrtle-5 32x32": (models.myrtle(5), (32, 32, 3)),
    "5-layer CNN 32x32": (models.cnn5(), (32, 32, 3)),
    "5-layer CNN 8x8": (models.cnn5(), (8, 8, 3)),
    "MLP 2 x ReLU, 15 features": (MLP, (15,)),
}


@pytest.mark.parametrize("name", PROFILED)
def test_stage_profile(benchmark, best_of, name):
    """Per stage, old vs new, float32, in ms per 1000 pairs of a tile of the library's
    size (variance pass: ms per 1000 inputs, once per input); the printed rows are the
    README's profile."""
    spec, shape = PROFILED[name]
    n = infinite.block_size(shape, 4)
    x1, x2 = np.random.default_rng(0).normal(size=(2, n) + shape).astype(np.float32)
    before, after = _old_stages(best_of, spec, x1, x2), _new_stages(best_of, spec, x1, x2)
    benchmark.pedantic(lambda: jax.block_until_ready(infinite._pair_kernels(
        spec, x1, x2, infinite._self_scales(spec, x1), infinite._self_scales(spec, x2))), rounds=1, iterations=1)
    print(f"\n{name} ({jax.default_backend()}, float32), ms per 1000 pairs | old | new | old/new")
    for stage in before:
        per = 1000 / (1 if stage.startswith("variance") else n * n)
        print(f"| {name} | {stage} | {before[stage] * per * 1e3:.4g} | {after[stage] * per * 1e3:.4g} "
              f"| {before[stage] / after[stage]:.1f}x |")
        benchmark.extra_info[f"{stage} old/new"] = before[stage] / after[stage]


def _speedup(best_time, spec, x, float64, rounds=2):
    """old / new seconds for the NNGP + NTK Gram of x (each the fastest of `rounds`),
    after checking that they agree."""
    a, b = old.kernels(spec, x, float64=float64), infinite.kernels(spec, x, float64=float64)
    for got, want in ((b.nngp, a.nngp), (b.ntk, a.ntk)):
        np.testing.assert_allclose(got, want, rtol=2e-5 if not float64 else 1e-12, atol=0)
    t_old = best_time(lambda: old.kernels(spec, x, float64=float64), rounds)
    t_new = best_time(lambda: infinite.kernels(spec, x, float64=float64), rounds)
    entries = len(x) * (len(x) + 1) / 2
    return t_old / t_new, entries / t_old, entries / t_new


SPEEDUPS = {
    # name: spec, input shape, inputs, the speed-up issue 17 asks for (float32)
    "Myrtle-5 32x32": (models.myrtle(5), (32, 32, 3), 6, 5.0),
    "4-layer pooled CNN 8x8": (models.cnn5(), (8, 8, 3), 64, 10.0),
    "4-layer pooled CNN 1x40": (models.cnn5(), (1, 40, 3), 64, None),
    "5-layer CNN 16x16": (models.cnn5(), (16, 16, 3), 12, None),
    "conv-pool-flatten 8x8": (CONV_POOL_FLATTEN, (8, 8, 2), 64, None),
    "MLP, 2 x ReLU": (MLP, (15,), 2000, None),
}


@pytest.mark.parametrize("float64", [False, True], ids=["f32", "f64"])
@pytest.mark.parametrize("name", SPEEDUPS)
def test_speedup_over_the_old_recursion(benchmark, best_of, name, float64):
    """NNGP + NTK Gram, old vs new in one run: Myrtle-5 at 32x32 at least 5x faster, the
    4-layer pooled CNN on 8x8 images at least 10x (float32, issue 17)."""
    spec, shape, n, wanted = SPEEDUPS[name]
    x = np.random.default_rng(0).normal(size=(n,) + shape)
    ratio, old_rate, new_rate = benchmark.pedantic(lambda: _speedup(best_of, spec, x, float64), rounds=1, iterations=1)
    benchmark.extra_info.update(speedup=ratio, old_entries_per_s=old_rate, new_entries_per_s=new_rate)
    print(f"\n{name}, {'float64' if float64 else 'float32'}, {n} inputs: {ratio:.1f}x faster "
          f"({old_rate:.4g} -> {new_rate:.4g} entries/s, {jax.default_backend()})")
    if wanted and not float64:
        assert ratio >= wanted


def test_tile_size(benchmark, best_of):
    """Entries/s of the 4-layer pooled CNN on 8x8 and 1 x 40 inputs and of an MLP, by
    the bytes of a tile's pixel-pair covariance: the library's CPU TILE_BYTES should be
    near the best for images, and beat the 16 MiB tiles used before."""
    chosen, rates = infinite.TILE_BYTES, {}
    cases = {"cnn 8x8": (models.cnn5(), (8, 8, 3), 160), "cnn 1x40": (models.cnn5(), (1, 40, 3), 160),
             "mlp": (MLP, (15,), 3000)}
    try:
        for label, (spec, shape, n) in cases.items():
            x = np.random.default_rng(0).normal(size=(n,) + shape).astype(np.float32)
            for kib in (128, 256, 512, 1024, 4096, 16384):
                infinite.TILE_BYTES = kib << 10
                rates[label, kib] = n * (n + 1) / 2 / best_of(lambda: infinite.kernels(spec, x), 2)
    finally:
        infinite.TILE_BYTES = chosen
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(f"\nentries/s by tile size (KiB), {jax.default_backend()}; the library uses {chosen >> 10} KiB")
    for label in cases:
        row = {kib: rate for (name, kib), rate in rates.items() if name == label}
        print(f"{label}: " + ", ".join(f"{kib}: {rate:.4g}" for kib, rate in row.items()))
        if label.startswith("cnn"):  # an MLP tile's few microseconds are too noisy to rank
            assert row[chosen >> 10] > max(0.7 * max(row.values()), row[16384])


def test_throughput_and_budget(benchmark, best_of):
    """Entries/s of the full-scale Grams' kernels on this machine (a 4 x 4 tile of distinct
    images, so that no variance pass is amortised away), and the hours their Grams take."""
    rates = {}
    for name, spec in (("Myrtle-5 32x32", models.myrtle(5)), ("5-layer CNN 32x32", models.cnn5())):
        x1, x2 = np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3)).astype(np.float32)
        infinite.kernels(spec, x1, x2)
        rates[name] = 16 / best_of(lambda: infinite.kernels(spec, x1, x2), 2)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    grams = {"Myrtle-5 32x32": (8000, 10_000), "5-layer CNN 32x32": (1000, 10_000)}
    print(f"\nfull-scale Grams on this machine ({jax.default_backend()}, float32, one process):")
    for name, (n, t) in grams.items():
        entries = n * (n + 1) / 2 + n * t
        benchmark.extra_info[f"{name} entries/s"] = rates[name]
        print(f"{name}: {rates[name]:.3g} entries/s; {entries / 1e6:.1f}M entries: "
              f"{entries / rates[name] / 3600:.1f} h")


def test_float64_arc_cosine_cost(benchmark, best_of):
    """The ReLU stage in float64: fdlibm's rational arccos vs XLA's, on one 32x32 pixel-pair
    covariance (why float64 uses an approximation too)."""
    with maybe_x64(True):
        k = jax.numpy.asarray(np.random.default_rng(0).uniform(-1, 1, size=(1, 1, 32, 32, 32, 32)))
        ours = jax.jit(infinite.acos)
        theirs = jax.jit(jax.numpy.arccos)
        np.testing.assert_allclose(ours(k), theirs(k), rtol=1e-15)
        ratio = best_of(lambda: theirs(k), 5) / best_of(lambda: ours(k), 5)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info["f64_acos_speedup"] = ratio
    print(f"\nfloat64 arccos, 1M entries: fdlibm's rational form {ratio:.1f}x faster than XLA's")


@pytest.mark.parametrize("name", ["Myrtle-5 32x32", "5-layer CNN 8x8"])
def test_one_program_vs_parts(benchmark, best_of, name):
    """A tile as the library runs it (each convolution and pooling a program of its own)
    vs the whole spec as one XLA program, which lets XLA fuse stages: it recomputes a ReLU
    for each neighbour a convolution reads."""
    spec, shape = PROFILED[name]
    n = infinite.block_size(shape, 4)
    x1, x2 = np.random.default_rng(0).normal(size=(2, n) + shape).astype(np.float32)
    s1, s2 = infinite._self_scales(spec, x1), infinite._self_scales(spec, x2)
    cov = infinite._input_cov(x1, x2, False)
    parts = best_of(lambda: infinite._pair_kernels(spec, x1, x2, s1, s2))
    whole = best_of(lambda: infinite._pair_segment(spec, cov, None, s1, s2))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info["parts_speedup"] = whole / parts
    print(f"\n{name}: one program per part {whole / parts:.1f}x faster than one program per tile")


@pytest.mark.parametrize("float64", [False, True], ids=["f32", "f64"])
def test_myrtle1d_throughput_and_mnist1d_gram_time(benchmark, best_of, float64):
    """Entries/s of the 1-D Myrtle-5 NTK + NNGP on 40-sample signals (a 256 x 256 block of
    distinct signals, variance passes included), and the time of an MNIST-1D Gram of a
    4096-signal pool plus 1000 test signals against the pool (pool x pool symmetric)."""
    spec = models.myrtle1d()
    x1, x2 = np.random.default_rng(0).normal(size=(2, 256, 40, 1))
    infinite.kernels(spec, x1[:16], x2[:16], float64=float64)
    rate = 256 * 256 / best_of(lambda: infinite.kernels(spec, x1, x2, float64=float64), 2)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    entries = 4096 * 4097 / 2 + 1000 * 4096
    benchmark.extra_info["entries/s"] = rate
    print(f"\nmyrtle1d 40 x 1 ({jax.default_backend()}, {'float64' if float64 else 'float32'}): "
          f"{rate:.4g} entries/s; (4096 + 1000) x 4096 Gram, {entries / 1e6:.1f}M entries: "
          f"{entries / rate / 60:.1f} min")
