"""The protocol's per-trial data and infinite-NTK Grams, its measured critical learning rate, and
its learning curves."""

import jax
import numpy as np
import pytest

from ntkbench import kernel_train, models
from ntkbench.claims import protocol
from ntkbench.claims.protocol import critical_lr, learning_curves, ntk_grams, per_trial, prefix_grams, trial_seed
from ntkbench.config import ExponentConfig, ExponentSetting
from ntkbench.data import tasks
from ntkbench.data.errors import DataError
from ntkbench.kernels import infinite
from ntkbench.runner import Runner
from ntkbench.store import Store

MLP = models.mlp([1, 1], W_std=2**0.5, b_std=0.1)


def gram(cfg, store=None, trials=1):
    return ntk_grams(cfg, Runner(Store(store)), trials=trials)


def test_the_gram_is_the_square_grams_training_columns(monkeypatch):
    """Row blocks (here of 48, across the train / test boundary and the symmetric triangle)
    assemble K(pool[:n_max] then test, pool[:n_max]) of the square Gram."""
    monkeypatch.setattr(protocol, "ROWS_PER_CELL", 48)
    cfg = dict(task="xor", n_grid=(32, 100), n_test=70, seed=3, depth=2)
    for t, k in enumerate(gram(cfg, trials=2)):
        task = tasks.xor_task(100, 70, seed=trial_seed(3, t))
        square = infinite.kernels(MLP, np.concatenate([task.x_pool, task.x_test])).ntk
        np.testing.assert_allclose(k, square[:, :100], rtol=1e-6)


def test_each_trial_draws_its_own_pool_and_test_set():
    """Generated tasks anew, finite sets (digits) as an independently shuffled split; the same
    trial and root seed give the same data."""
    for task in ("xor", "digits-parity", "mnist1d-parity"):
        cfg = dict(task=task, n_test=100, seed=0)
        a, b = (protocol.task_of(cfg, 200, None, t) for t in (0, 1))
        assert not np.array_equal(a.x_pool, b.x_pool) and not np.array_equal(a.x_test, b.x_test)
        np.testing.assert_array_equal(protocol.task_of(cfg | {"seed": 0}, 200, None, 1).x_pool, b.x_pool)
    assert len({trial_seed(s, t) for s in range(20) for t in range(20)}) == 400


def test_a_stored_gram_computes_only_its_missing_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol, "ROWS_PER_CELL", 40)
    cfg = dict(task="xor", n_grid=(100,), n_test=50, seed=0, depth=2)
    whole = gram(cfg, tmp_path)
    entries = sorted(tmp_path.glob("*/*.npz"))
    assert len(entries) == 5  # rows 0-40, 40-80, 80-100 (training), 100-140, 140-150 (test)
    entries[1].unlink()
    runner = Runner(Store(tmp_path))
    np.testing.assert_array_equal(ntk_grams(cfg, runner, trials=1), whole)
    assert len(runner.cell_seconds) == 1


def test_grams_of_the_same_inputs_share_their_rows(tmp_path):
    """Rows are addressed by their inputs: digits parity's pool does not depend on the pool
    size asked for, so a second pool size reads the stored rows; XOR's test set does."""
    digits = dict(task="digits-parity", n_grid=(64,), n_test=773, seed=0, depth=2)
    xor = dict(task="xor", n_grid=(64,), n_test=100, seed=0, depth=2)
    for cfg, recomputed in ((digits, False), (xor, True)):
        first = gram(cfg, tmp_path)
        runner = Runner(Store(tmp_path))
        again = ntk_grams(cfg, runner, n_pool=500, trials=1)
        assert bool(runner.cell_seconds) == recomputed
        assert np.array_equal(again[0], first[0]) != recomputed


def test_a_smaller_grid_is_cut_from_the_larger_grams_rows_when_its_inputs_are_theirs(tmp_path):
    digits = dict(task="digits-parity", n_grid=(64, 128), n_test=773, seed=0, depth=2)
    xor = dict(task="xor", n_grid=(64, 128), n_test=100, seed=0, depth=2)
    for cfg, shared in ((digits, True), (xor, False)):
        full = gram(cfg, tmp_path, trials=2)
        runner = Runner(Store(tmp_path))
        cut = prefix_grams(cfg | {"trials": 2}, full, 64, runner)
        assert bool(runner.cell_seconds) != shared
        np.testing.assert_allclose(cut, gram(cfg | {"n_grid": (64,)}, trials=2), rtol=1e-6)


def test_rows_refuse_inputs_other_than_those_they_were_scheduled_for():
    with pytest.raises(RuntimeError, match="give every worker the same copy of the data"):
        protocol.ntk_rows(dict(task="xor", depth=2, n_max=8, inputs="0" * 64), (0, 8),
                          ("xor", 8, 4, 0, None))


def test_critical_lr_brackets_divergence():
    cfg = dict(task="xor", n_grid=(32, 128), n_test=10, seed=0, depth=2, batch_size=16, steps=300)
    lr = critical_lr(cfg, gram(cfg)[0])["critical_lr"]
    task = tasks.xor_task(128, 10, seed=trial_seed(0, 0))
    k = infinite.kernels(MLP, task.x_pool).ntk

    def finite(rate):
        p = kernel_train.sgd_trajectory(k, k[:1], task.y_pool, key=jax.random.PRNGKey(0), lr=rate,
                                        momentum=0.9, batch_size=16, steps=[300])
        return bool(np.all(np.isfinite(p)) and np.abs(p).max() < 1e6)

    assert finite(lr) and not finite(1.1 * lr)


def test_a_nan_producing_learning_rate_is_recorded_as_diverged():
    cfg = dict(task="xor", n_grid=(32, 64), n_test=20, seed=0, depth=2, width=8, batch_size=16,
               steps=50, lr_fraction=1.0, eval_points=5, rounds=1)
    training = dict(lr_factor=1000.0, momentum=0.9, full_batch=False, width=None)
    out = learning_curves(cfg, training, trials=(0,), critical=1.0, ntk=gram(cfg))
    assert out["NN/diverged"] == [2] and out["NTK/diverged"] == [2] and out["ENTK/diverged"] == [2]
    assert np.all(out["NN/final"] == 1.0)  # a diverged run counts every test point as an error


def test_trials_grouped_in_one_cell_give_the_numbers_of_separate_cells():
    cfg = dict(task="xor", n_grid=(32, 64), n_test=50, seed=0, depth=2, width=8, batch_size=16,
               steps=40, lr_fraction=0.25, eval_points=4, rounds=3)
    training = dict(lr_factor=1.0, momentum=0.9, full_batch=False, width=None)
    ntk = gram(cfg, trials=3)
    together = per_trial([learning_curves(cfg, training, trials=(0, 1, 2), critical=1.0, ntk=ntk)])
    apart = per_trial([learning_curves(cfg, training, trials=(t,), critical=1.0, ntk=ntk[t:t + 1])
                       for t in range(3)])
    assert [sorted(t) for t in together] == [sorted(t) for t in apart]
    for a, b in zip(together, apart):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-6)


def test_an_image_task_without_a_data_folder_is_one_paragraph_not_a_traceback():
    protocol.load_task.cache_clear()
    with pytest.raises(DataError, match="no data folder was given"):
        protocol.load_task("cifar5m-bin", 8, 2, 0, None)


def test_an_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown task 'cifar10'"):
        protocol.load_task("cifar10", 8, 2, 0, None)


def test_an_optimiser_ablation_retrains_only_the_network_and_reads_the_base_settings_kernels(tmp_path):
    """[V]: changing the lr (or batch, or momentum) affects only the network's training."""
    cfg = ExponentConfig("quick", "xor", (), n_grid=(32, 64), n_test=50, width=8, depth=2, trials=2, steps=40,
                         batch_size=16, eval_points=4)
    runner = Runner(Store(tmp_path))
    ntk = gram(protocol.shared(cfg), trials=2)
    base = protocol.setting_curves(cfg, ExponentSetting("base"), 1.0, ntk, runner)
    for setting in (ExponentSetting("lr-x3", lr_factor=3.0), ExponentSetting("gd", full_batch=True),
                    ExponentSetting("no-momentum", momentum=0.0)):
        ablation = protocol.setting_curves(cfg, setting, 1.0, ntk, runner)
        for b, a in zip(base, ablation):
            for key in ("NTK/best", "ENTK/best", "NTK/final", "ENTK/final"):
                np.testing.assert_array_equal(a[key], b[key])
            assert not np.array_equal(a["NN/final"], b["NN/final"])
            assert a["kernel_lr"] == b["lr"]


def test_every_network_run_records_its_training_error_and_steps_at_its_stop():
    """A network trains until its training error meets the target, within the budget of
    `rounds` rounds; its kernels train as many steps."""
    cfg = dict(task="xor", n_grid=(16, 128), n_test=20, seed=0, depth=2, width=64, batch_size=16,
               steps=20, lr_fraction=0.25, eval_points=30, rounds=6)
    training = dict(lr_factor=1.0, momentum=0.9, full_batch=False, width=None)
    out = learning_curves(cfg, training, trials=(0, 1), critical=1.0, ntk=gram(cfg, trials=2))
    assert out["NN/train_error"].shape == out["NN/steps"].shape == (2, 2)
    met = out["NN/train_error"] <= 0.01
    per_round = np.array([20, 24])  # whole epochs: 1 step of 16 per epoch, then 8 of 16 (3 epochs) per round
    assert met[:, 0].all() and np.all(out["NN/steps"] % per_round == 0)
    assert np.all(out["NN/steps"] <= 6 * per_round)
    assert np.all((out["NN/steps"] == 6 * per_round)[~met]), out  # a miss trains the whole budget
    assert out["NN/steps"][:, 1].max() > out["NN/steps"][:, 0].min()  # 128 points take longer than 16
    nn_only = learning_curves(cfg, training, trials=(0,), critical=1.0, ntk=gram(cfg), trained=("NN",))
    assert set(nn_only) == {"NN/best", "NN/final", "NN/diverged", "NN/train_error", "NN/steps", "lr"}
