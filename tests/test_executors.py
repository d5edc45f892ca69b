"""Executors: the same cells give bit-identical results in-process, on the process pool and
on dask.distributed (a LocalCluster on 127.0.0.1, two worker processes, no dashboard), a
float32 training and a float64 kernel claim's LAPACK solves alike, and so do programs a
pool's workers load from the store instead of compiling; a dask task whose worker dies is
retried; a cluster that cannot be reached is one message."""

import os
import sys
from pathlib import Path

import cloudpickle
import jax
import numpy as np
import pytest

from ntkbench import models, train
from ntkbench.claims import nn_vs_ntk_rmse
from ntkbench.runner import Cell, Runner, _programs_first
from ntkbench.store import Store

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # dask workers cannot import tests/


def tiny_training(seed: int) -> dict:
    """A short SGD run whose keys derive from the cell's own parameters."""
    spec = models.mlp([16])
    key = jax.random.fold_in(jax.random.PRNGKey(0), seed)
    x = np.asarray(jax.random.normal(key, (32, 3)))
    params = models.network(spec).init(key, x[:1])["params"]
    fit = train.fit_mse(spec, params, x, np.sign(x[:, 0]), key=key, lr=0.1, batch_size=8, epochs=5,
                        momentum=0.9, eval_x=x, eval_steps=[20])
    return {"preds": fit.eval_preds[0]}


def dies_once(marker: str) -> dict:
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return {"pid": np.int64(os.getpid())}


def _cells():
    return [Cell("test.tiny_training", tiny_training, {"seed": s}) for s in range(4)]


@pytest.fixture(scope="module")
def dask_runner():
    runner = Runner(Store(None), "dask")
    runner.start()
    yield runner
    runner.close()


def _everywhere(cells, dask_runner):
    """The cells' results in-process, on the process pool and on dask."""
    local = Runner(Store(None)).map(cells, "local")
    pool = Runner(Store(None), "process")
    try:
        pooled = pool.map(cells, "process")
    finally:
        pool.close()
    return local, pooled, dask_runner.map(cells, "dask")


def test_results_are_bit_identical_across_executors(dask_runner):
    for a, b, c in zip(*_everywhere(_cells(), dask_runner)):
        np.testing.assert_array_equal(a["preds"], b["preds"])
        np.testing.assert_array_equal(a["preds"], c["preds"])


def test_float64_kernel_rows_are_bit_identical_across_executors(dask_runner):
    """The RMSE claim's kernel rows: float64 native and closed-form kernels, then LAPACK
    solves, whose last bits depend on LAPACK's thread count (1e-10 relative apart before
    the in-process executor ran them on one thread, like the workers)."""
    cells = [Cell(f"{nn_vs_ntk_rmse.CLAIM}.kernels", nn_vs_ntk_rmse.kernel_trial,
                  {"trial": i, "data_seed": 11342}) for i in range(2)]
    for a, b, c in zip(*_everywhere(cells, dask_runner)):
        rmse = sorted(k for k in a if k.startswith("rmse/"))
        assert len(rmse) == 13
        assert [a[k] for k in rmse] == [b[k] for k in rmse] == [c[k] for k in rmse]


def test_pool_workers_load_the_programs_earlier_workers_compiled(tmp_path):
    """Fresh workers of a second pool find the first pool's compiled programs in the store
    and give the numbers of an in-process run."""
    cells = _cells()
    first = Runner(Store(tmp_path), "process")
    try:
        first.map(cells[:2], "compiles")
    finally:
        first.close()
    folder = Path(first.programs())
    assert folder.is_relative_to(tmp_path) and any(folder.iterdir())
    second = Runner(Store(tmp_path), "process")
    try:
        loaded = second.map(cells[2:], "loads")
    finally:
        second.close()
    for a, b in zip(Runner(Store(None)).map(cells[2:], "local"), loaded):
        np.testing.assert_array_equal(a["preds"], b["preds"])


def test_workers_start_on_different_programs():
    """Cells that differ only by trial share a program: one of each program goes first."""
    cells = [Cell("k", tiny_training, {"width": w, "trials": (t,)}) for w in (2, 4) for t in range(3)]
    assert _programs_first(cells) == [0, 3, 1, 2, 4, 5]


def test_a_task_whose_worker_dies_is_retried(dask_runner, tmp_path):
    marker = tmp_path / "died"
    (result,) = dask_runner.map([Cell("test.dies_once", dies_once, {"marker": str(marker)})], "dies")
    assert marker.exists() and int(result["pid"]) != os.getpid()


def test_unreachable_scheduler_is_one_clear_error():
    runner = Runner(Store(None), "dask", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="could not reach the dask scheduler at tcp://127.0.0.1:9.*--executor=process"):
        runner.start()
