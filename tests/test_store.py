"""The result store and the runner: resume after a crash, damaged entries, executors."""

import numpy as np
import pytest

from ntkbench.runner import Cell, Runner
from ntkbench.store import Store, address


def square(i):
    if i == 3 and _FAIL_AT_3[0]:
        raise RuntimeError("killed")
    _CALLS.append(i)
    return {"y": np.float64(i * i), "v": np.arange(i)}


_CALLS: list = []
_FAIL_AT_3 = [False]


def _cells(n):
    return [Cell("test.square", square, {"i": i}) for i in range(n)]


def test_address_is_order_independent():
    versions = {"jax": "0.4.25", "numpy": "1.26.4"}
    assert (address("k", {"a": 1, "b": 2}, "c0de", versions)
            == address("k", {"b": 2, "a": 1}, "c0de", dict(reversed(versions.items()))))
    assert address("k", {"a": 1}, "c0de", versions) != address("k2", {"a": 1}, "c0de", versions)


def test_roundtrip(tmp_path):
    store = Store(tmp_path)
    store.put("ab" * 32, {"x": 1.5, "arr": np.ones((2, 3)), "flag": True})
    got = store.get("ab" * 32)
    assert got["x"] == 1.5 and got["flag"] is np.True_ and got["arr"].shape == (2, 3)


def test_resume_computes_only_missing_cells(tmp_path):
    runner = Runner(Store(tmp_path))
    _CALLS.clear()
    _FAIL_AT_3[0] = True
    with pytest.raises(RuntimeError, match="killed"):
        runner.map(_cells(6), "squares")
    assert _CALLS == [0, 1, 2]
    _FAIL_AT_3[0] = False
    _CALLS.clear()
    results = runner.map(_cells(6), "squares")
    assert _CALLS == [3, 4, 5]
    assert [float(r["y"]) for r in results] == [0, 1, 4, 9, 16, 25]
    _CALLS.clear()
    runner.map(_cells(6), "squares")
    assert _CALLS == []


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b[:-5] + b"xxxxx", lambda b: b""])
def test_damaged_entry_is_reported_and_recomputed(tmp_path, damage):
    store = Store(tmp_path)
    runner = Runner(store)
    runner.map(_cells(2), "squares")
    path = next(p for p in tmp_path.rglob("*.npz") if _cells(2)[1].key in p.name)
    path.write_bytes(damage(path.read_bytes()))
    _CALLS.clear()
    results = runner.map(_cells(2), "squares")
    assert _CALLS == [1] and float(results[1]["y"]) == 1
    assert len(store.events) == 1 and "damaged" in store.events[0]


def test_no_cache_dir_computes_everything():
    runner = Runner(Store(None))
    _CALLS.clear()
    runner.map(_cells(2), "squares")
    runner.map(_cells(2), "squares")
    assert _CALLS == [0, 1, 0, 1]


def test_process_executor_matches_local(tmp_path):
    local = Runner(Store(None)).map(_cells(4), "squares")
    runner = Runner(Store(tmp_path), "process")
    try:
        pooled = runner.map(_cells(4), "squares")
    finally:
        runner.close()
    assert [float(r["y"]) for r in pooled] == [float(r["y"]) for r in local]


def test_unknown_executor_is_named():
    with pytest.raises(ValueError, match="local, process"):
        Runner(Store(None), "threads")
