"""The protocol's measured critical learning rate separates stable from divergent SGD."""

import jax
import numpy as np

from ntkbench import kernel_train, models
from ntkbench.claims.protocol import critical_lr
from ntkbench.data import tasks
from ntkbench.kernels import infinite


def test_critical_lr_brackets_divergence():
    cfg = dict(task="xor", n_grid=(32, 128), n_test=10, seed=0, depth=2, batch_size=16, steps=300)
    lr = critical_lr(cfg)["critical_lr"]
    task = tasks.xor_task(128, 10, seed=0)
    k = infinite.kernels(models.mlp([1, 1], W_std=2**0.5, b_std=0.1), task.x_pool).ntk

    def finite(rate):
        p = kernel_train.sgd_trajectory(k, k[:1], task.y_pool, key=jax.random.PRNGKey(0), lr=rate,
                                        momentum=0.9, batch_size=16, steps=[300])
        return bool(np.all(np.isfinite(p)) and np.abs(p).max() < 1e6)

    assert finite(lr) and not finite(1.1 * lr)


def test_a_nan_producing_learning_rate_is_recorded_as_diverged():
    from ntkbench.claims.protocol import learning_curves

    cfg = dict(task="xor", n_grid=(32, 64), n_test=20, seed=0, depth=2, width=8, batch_size=16,
               steps=50, lr_fraction=1.0, eval_points=5)
    training = dict(lr_factor=1000.0, momentum=0.9, full_batch=False, width=None)
    out = learning_curves(cfg, training, trials=(0,), critical=1.0)
    assert out["NN/diverged"] == [2] and out["NTK/diverged"] == [2] and out["ENTK/diverged"] == [2]
    assert np.all(out["NN/final"] == 1.0)  # a diverged run counts every test point as an error


def test_trials_grouped_in_one_cell_give_the_numbers_of_separate_cells():
    from ntkbench.claims.protocol import learning_curves, per_trial

    cfg = dict(task="xor", n_grid=(32, 64), n_test=50, seed=0, depth=2, width=8, batch_size=16,
               steps=40, lr_fraction=0.25, eval_points=4)
    training = dict(lr_factor=1.0, momentum=0.9, full_batch=False, width=None)
    together = per_trial([learning_curves(cfg, training, trials=(0, 1, 2), critical=1.0)])
    apart = per_trial([learning_curves(cfg, training, trials=(t,), critical=1.0) for t in range(3)])
    assert [sorted(t) for t in together] == [sorted(t) for t in apart]
    for a, b in zip(together, apart):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-6)
