"""Runs a sweep's independent cells through the store on an executor.

A cell is (kind, fn, params): `fn(**params)` computes a flat dict of results; its address
in the store derives from its kind (a readable name), its parameters, the code of `fn`'s
module and the ntkbench modules it imports (`code_digest`), and the versions of the packages
that change numbers. Addresses are computed here, where cells are scheduled, never in a
worker. Cells already in the store are not computed again; each new result is stored the
moment it arrives, so a killed run resumes where it stopped. Executors:
  local    in this process, one cell after another, with BLAS / LAPACK on one thread as
           in the pooled workers (so that results are bit-identical); a Gram's tiles
           spread over every local device (`kernels.infinite.kernels`);
  process  a spawn process pool, one worker per core, each pinned to its own core (small
           JAX programs run faster single-threaded side by side than sharing two cores),
           keeping the programs XLA compiles beside the store's entries (`programs`), so
           that a program is compiled once, not once per worker and run;
  dask     dask.distributed (`Client.get_executor()`): a cluster at `scheduler` (e.g. one
           started by dask-jobqueue on SLURM), or else a LocalCluster of single-threaded
           worker processes on this machine. A task whose worker dies is retried elsewhere.
Every cell derives its PRNG keys from its own parameters, so results do not depend on the
executor or on the order in which cells finish.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import multiprocessing
import os
import time
from typing import Any, Callable, Protocol, Sequence

from ntkbench import machine
from ntkbench.code_digest import code_digest
from ntkbench.provenance import numeric_versions
from ntkbench.store import Store, Value, address
from ntkbench.worker_init import one_thread, start

EXECUTORS = ("local", "process", "dask")
DASK_RETRIES = 2


@dataclasses.dataclass(frozen=True)
class Cell:
    kind: str
    fn: Callable[..., Value]
    params: dict[str, Any]

    @property
    def key(self) -> str:
        return address(self.kind, self.params, code_digest(self.fn), numeric_versions())


class Progress(Protocol):
    def __call__(self, label: str, done: int, total: int, elapsed: float) -> None: ...


def _timed(fn, params):
    start = time.perf_counter()
    value = dict(fn(**params))
    value["seconds"] = time.perf_counter() - start
    return value


def _programs_first(cells: Sequence[Cell]) -> list[int]:
    """The order to submit `cells` in: the first cell of every program, then the others. A
    program is a kind and its parameters but the trial's (cells of other trials run the
    same compiled programs), so that workers start on different programs, each compiled
    once and loaded by the others, rather than on two trials that both compile the same."""
    first, rest, seen = [], [], set()
    for i, c in enumerate(cells):
        program = (c.kind, repr({k: v for k, v in c.params.items() if k not in ("trial", "trials")}))
        (rest if program in seen else first).append(i)
        seen.add(program)
    return first + rest


def usable_cores() -> list[int]:
    """The cores this process may run on (its affinity), one pooled worker each."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


class Runner:
    """Maps cells through `store` on the chosen executor, reporting progress."""

    def __init__(self, store: Store, executor: str = "local", progress: Progress | None = None,
                 scheduler: str | None = None):
        if executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
        self.store = store
        self.executor = executor
        self.progress = progress
        self.scheduler = scheduler
        self.cell_seconds: list[tuple[str, float]] = []
        self._pool: cf.Executor | None = None
        self._client = None

    def close(self) -> None:
        if isinstance(self._pool, cf.ProcessPoolExecutor):
            self._pool.shutdown(cancel_futures=True)
        self._pool = None
        if self._client is not None:
            cluster = self._client.cluster if self.scheduler is None else None
            self._client.close()
            if cluster is not None:
                cluster.close()
            self._client = None

    def start(self) -> None:
        """Starts the executor now, so that one that cannot start (an unreachable dask
        scheduler) fails before anything is computed."""
        if self.executor != "local":
            self._executor()

    def _dask_executor(self) -> cf.Executor:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError("--executor=dask needs dask.distributed: pip install "
                               "-c requirements/current.txt -e \".[dask]\"") from None
        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout=10)
            except (OSError, TimeoutError) as err:
                raise RuntimeError(
                    f"could not reach the dask scheduler at {self.scheduler} ({err}). Start one "
                    "(`dask scheduler`, or a dask-jobqueue cluster) and pass its address to "
                    "--dask-scheduler, or run with --executor=process.") from None
        else:
            # dask's nanny starts workers with one BLAS / OpenMP thread each
            cluster = LocalCluster(n_workers=len(usable_cores()), threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None)
            self._client = Client(cluster)
        return self._client.get_executor(retries=DASK_RETRIES, pure=False)

    def programs(self) -> str | None:
        """The folder where the pool's workers keep compiled XLA programs: in the store, one
        per kind of machine (CPU model, instruction sets, XLA_FLAGS), since code compiled
        for one may not run on another; None without a store."""
        if self.store.root is None:
            return None
        m = machine.describe()
        kind = hashlib.sha256(f"{m['cpu']}|{m['isa']}|{m['xla_flags']}".encode()).hexdigest()[:16]
        return str(self.store.root / "xla" / kind)

    def _process_pool(self) -> cf.Executor:
        cores = usable_cores()
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        for core in cores:
            queue.put(core)
        return cf.ProcessPoolExecutor(len(cores), mp_context=ctx, initializer=start,
                                      initargs=(queue, self.programs()))

    def _executor(self) -> cf.Executor:
        """The pool of this runner's executor, started on first use."""
        if self._pool is None:
            self._pool = self._dask_executor() if self.executor == "dask" else self._process_pool()
        return self._pool

    def map(self, cells: Sequence[Cell], label: str) -> list[Value]:
        """Results of `cells`, in order, computing only those the store lacks."""
        results: list[Value | None] = [self.store.get(c.key) for c in cells]
        todo = [i for i, r in enumerate(results) if r is None]
        start = time.perf_counter()
        done = len(cells) - len(todo)
        self._report(label, done, len(cells), start)
        for i, value in self._compute([cells[i] for i in todo], todo):
            self.store.put(cells[i].key, value)
            results[i] = value
            self.cell_seconds.append((f"{cells[i].kind} {cells[i].params}", float(value["seconds"])))
            done += 1
            self._report(label, done, len(cells), start)
        return results  # type: ignore[return-value]

    def _report(self, label, done, total, start):
        if self.progress is not None:
            self.progress(label, done, total, time.perf_counter() - start)

    def _compute(self, cells, indices):
        if self.executor == "local" or (self.executor == "process" and len(cells) <= 1):
            for i, cell in zip(indices, cells):
                with one_thread():  # as in every worker: LAPACK's bits depend on its threads
                    value = _timed(cell.fn, cell.params)
                yield i, value
            return
        pool = self._executor()
        order = _programs_first(cells)
        futures = {pool.submit(_timed, cells[k].fn, cells[k].params): indices[k] for k in order}
        try:
            for future in cf.as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
