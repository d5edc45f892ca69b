"""The result store under faults: a sweep killed with SIGKILL resumes where it stopped and
ends with the results of an uninterrupted run; two runs sharing a cache do not corrupt it."""

import importlib.util
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from ntkbench.runner import Runner
from ntkbench.store import Store

SWEEP = textwrap.dedent('''
    import sys, time
    import numpy as np
    from ntkbench.runner import Cell, Runner
    from ntkbench.store import Store

    def cell(i):
        time.sleep(0.3)
        return {"y": np.random.default_rng(i).normal(size=5)}

    def cells():
        return [Cell("test.sweep", cell, {"i": i}) for i in range(8)]

    if __name__ == "__main__":
        Runner(Store(sys.argv[1])).map(cells(), "sweep")
''')


def _sweep(tmp_path):
    """The sweep's script, and the same script loaded here as a module."""
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP)
    spec = importlib.util.spec_from_file_location("sweep", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return script, module


def _entries(cache):
    return sorted(cache.rglob("*.npz"))


def test_sigkill_mid_sweep_resumes_with_the_same_results(tmp_path):
    script, sweep = _sweep(tmp_path)
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, str(script), str(cache)])
    deadline = time.monotonic() + 60
    while len(_entries(cache)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = len(_entries(cache))
    assert 3 <= stored < 8, "the sweep was not killed mid-way"
    runner = Runner(Store(cache))
    resumed = runner.map(sweep.cells(), "sweep")
    assert len(runner.cell_seconds) == 8 - stored  # only the missing cells were computed
    fresh = Runner(Store(None)).map(sweep.cells(), "sweep")
    for a, b in zip(resumed, fresh):
        np.testing.assert_array_equal(a["y"], b["y"])


def test_concurrent_runs_share_a_cache_without_corrupting_it(tmp_path):
    script, sweep = _sweep(tmp_path)
    cache = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, str(script), str(cache)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(_entries(cache)) == 8 and not list(cache.rglob(".tmp-*"))
    store = Store(cache)
    runner = Runner(store)
    runner.map(sweep.cells(), "sweep")
    assert runner.cell_seconds == [] and store.events == []  # every entry read back intact
