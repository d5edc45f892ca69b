"""--plan's cost models checked: each unit's time extrapolated from its probe (a small
instance timed on this device) against the same work measured at a larger size, in one
run. Within FACTOR either way; the ratios are printed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkbench import cost, kernel_train, models, train
from ntkbench.kernels import empirical, infinite
from ntkbench.worker_init import one_thread

FACTOR = 3.0
MYRTLE1D = models.myrtle1d(5, 16)
MLP = models.mlp([64, 64], W_std=2**0.5, b_std=0.1)


def _inputs(shape, n):
    return np.random.default_rng(1).normal(size=(n, *shape)).astype(np.float32)


def _psd(n):
    a = np.random.default_rng(1).normal(size=(n, n)).astype(np.float32)
    return a @ a.T / n


def _train(spec, shape, n, steps, batch):
    x = _inputs(shape, n)
    params = models.network(spec).init(jax.random.PRNGKey(1), x[:1])["params"]
    epochs = train.epochs_for(steps, n, batch)
    return lambda: train.fit_mse(spec, jax.tree.map(jnp.copy, params), x, np.sign(x.reshape(n, -1)[:, 0]),
                                 key=jax.random.PRNGKey(1), lr=1e-3, batch_size=batch, epochs=epochs,
                                 momentum=0.9).train_mse


def _entk(spec, shape, n):
    x = _inputs(shape, n)
    params = models.network(spec).init(jax.random.PRNGKey(1), x[:1])["params"]
    return lambda: empirical.ntk(spec, params, x)


def _fit(n, m, horizon, method):
    k = _psd(n + m)
    y = np.sign(k[:n, 0])
    return lambda: kernel_train.early_stopped_error(k[:n, :n], k[n:, :n], y, np.sign(k[n:, 1]),
                                                    horizon=horizon, method=method)


def _sgd(n, m, steps, batch, points):
    k = _psd(n + m)
    return lambda: kernel_train.sgd_trajectory(k[:n, :n], k[n:, :n], np.sign(k[:n, 0]), key=jax.random.PRNGKey(1),
                                               lr=1e-4, momentum=0.9, batch_size=batch,
                                               steps=kernel_train.schedule(steps, points))


CASES = {
    "infinite Gram, 1-D Myrtle-5": (cost.InfiniteGram(MYRTLE1D, (40, 1), 192 * 192),
                                    lambda: infinite.kernels(MYRTLE1D, _inputs((40, 1), 192), _inputs((40, 1), 192))),
    "training, 2 x 64 MLP": (cost.Training(MLP, (20,), 1024, 3 * 16 * 16, 64),
                             _train(MLP, (20,), 1024, 3 * 16 * 16, 64)),
    "training, 1-D Myrtle-5": (cost.Training(MYRTLE1D, (40, 1), 1024, 256, 64),
                               _train(MYRTLE1D, (40, 1), 1024, 256, 64)),
    "ENTK Gram, 1-D Myrtle-5 (Jacobians)": (cost.EmpiricalGram(MYRTLE1D, (40, 1), 2048, 2048),
                                            _entk(MYRTLE1D, (40, 1), 2048)),
    "ENTK Gram, 2 x 64 MLP (layer factors)": (cost.EmpiricalGram(MLP, (20,), 4096, 4096), _entk(MLP, (20,), 4096)),
    "fit, eigh": (cost.KernelFit(2048, 500), _fit(2048, 500, 100_000, "eigh")),
    "fit, matrix-free": (cost.KernelFit(2048, 500, 400), _fit(2048, 500, 400, None)),
    "kernel SGD": (cost.KernelSGD(4096, 500, 2000, 64, 50), _sgd(4096, 500, 2000, 64, 50)),
    "solve": (cost.Solve(2048), lambda: np.linalg.solve(_psd(2048).astype(np.float64) + np.eye(2048),
                                                        np.ones(2048))),
}


@pytest.mark.parametrize("case", CASES)
def test_cost_model_extrapolates_its_probe(case, best_of):
    unit, run = CASES[case]
    assert case != "fit, matrix-free" or unit.method == "matfree"
    estimated = cost.combined([unit.need(cost.Probe())]).seconds
    with one_thread():
        measured = best_of(run, rounds=2)
    ratio = measured / estimated
    print(f"\n{case}: measured {measured:.3g} s, estimated {estimated:.3g} s, ratio {ratio:.2f}")
    assert 1 / FACTOR <= ratio <= FACTOR
