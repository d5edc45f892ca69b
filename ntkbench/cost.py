"""What a run will cost, before it runs: units of work, their cost models, and a probe of
the present device.

A claim lists its stages (`Stage`: the label its cells are mapped under, and the units of
work each cell does). Every unit states its size in the quantities that bind (kernel
entries, FLOPs, bytes moved, peak bytes on the device and in host memory) and its time,
extrapolated by its cost model from a small instance timed on the present device
(`Probe`): an infinite-NTK Gram is linear in its entries, a training run in its steps, an
ENTK Gram linear in its Jacobians plus quadratic in its products, an `eigh` fit cubic in
n and a matrix-free fit linear in its steps times n^2. FLOPs and bytes of XLA programs are
XLA's own count (`cost_analysis`) of the probed program, scaled the same way.

Every probe runs on one thread of a CPU, as the pool's workers do, and the whole device
otherwise; the estimate is for one worker, and `plan` divides it over the workers.
"""

from __future__ import annotations

import functools
import math
import os
import re
import time
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import kernel_train, machine, models, train
from ntkbench.kernels import empirical, infinite
from ntkbench.runner import usable_cores
from ntkbench.worker_init import one_thread

class Need(NamedTuple):
    """What some work takes: kernel entries computed, FLOPs, bytes moved, peak bytes held
    on the device and in host memory, and the estimated seconds on the probed device."""

    entries: float = 0.0
    flops: float = 0.0
    moved: float = 0.0
    device: float = 0.0
    host: float = 0.0
    seconds: float = 0.0


def combined(needs: Sequence[Need]) -> Need:
    """Needs of work done one after another: totals added, peaks the largest."""
    if not needs:
        return Need()
    return Need(*(sum(n[i] for n in needs) for i in range(3)), max(n.device for n in needs),
                max(n.host for n in needs), sum(n.seconds for n in needs))


def _timed(fn, *args) -> float:
    """Seconds of `fn(*args)` once compiled (the first call compiles and is not counted)."""
    return _compiled_and_timed(fn, *args)[0]


def _compiled_and_timed(fn, *args) -> tuple[float, float]:
    """Seconds of `fn(*args)` once compiled, and the seconds its first call took more."""
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    second = time.perf_counter() - start
    return second, max(0.0, first - second)


def _out_of_memory(err: Exception) -> float | None:
    """The bytes an allocation that failed for want of memory asked for (inf where the
    message does not say); None for any other error."""
    if not isinstance(err, jax.errors.JaxRuntimeError) or "RESOURCE_EXHAUSTED" not in str(err):
        return None
    asked = re.search(r"allocating (\d+) bytes", str(err))
    return float(asked.group(1)) if asked else math.inf


def _xla(fn, *args) -> tuple[float, float, float]:
    """XLA's FLOPs, bytes accessed and temporary bytes of `jax.jit(fn)(*args)`."""
    compiled = jax.jit(fn).lower(*args).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    memory = compiled.memory_analysis()
    return (float(analysis.get("flops", 0.0)), float(analysis.get("bytes accessed", 0.0)),
            float(getattr(memory, "temp_size_in_bytes", 0) or 0))


PROBE_SECONDS = 0.5
"""About how long a probe times its work once compiled, so that timer and dispatch noise
stay small beside it."""


PROBE_FLOPS = 2e11
"""The most FLOPs a training probe's shortest run may take (some seconds on a CPU core)."""


def _inputs(shape: tuple[int, ...], n: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, *shape)).astype(np.float32)


def _params(spec: models.Spec, shape: tuple[int, ...]):
    return models.network(spec).init(jax.random.PRNGKey(0), jnp.zeros((1, *shape)))["params"]


class Probe:
    """Rates of the present device, each measured once on a small instance of its unit."""

    def __init__(self, device: jax.Device | None = None):
        self.device = device or jax.local_devices()[0]
        self._rates: dict = {}

    @property
    def memory(self) -> float:
        """Bytes of the device's memory (a CPU's: the machine's)."""
        stats = self.device.memory_stats() or {}
        return float(stats.get("bytes_limit") or host_memory())

    def describe(self) -> str:
        """The device in words, with how many cells run side by side on it."""
        if self.device.platform == "cpu":
            return f"{machine.describe()['cpu']}, {self.workers()} single-threaded workers (one per core)"
        return f"{self.device.device_kind}, {self.workers()} device(s)"

    def workers(self) -> int:
        """Cells that run side by side: one per core of a CPU (the process pool), one per
        local device elsewhere."""
        if self.device.platform == "cpu":
            return len(usable_cores())
        return len(jax.local_devices())

    def rate(self, key: tuple, measure) -> dict:
        if key not in self._rates:
            with one_thread(), jax.default_device(self.device):
                self._rates[key] = measure()
        return self._rates[key]


def host_memory() -> float:
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


class InfiniteGram(NamedTuple):
    """`entries` of the infinite NTK (and NNGP) of `spec` on inputs of `shape`."""

    spec: models.Spec
    shape: tuple[int, ...]
    entries: int

    def _rates(self, probe: Probe) -> dict:
        return probe.rate(("gram", self.spec, self.shape), functools.partial(_gram_rate, self.spec, self.shape))

    def compile(self, probe: Probe) -> tuple:
        return ("gram", self.spec, self.shape), self._rates(probe)["compile"]

    def need(self, probe: Probe) -> Need:
        r = self._rates(probe)
        return Need(self.entries, self.entries * r["flops"], self.entries * r["moved"], r["device"],
                    8.0 * self.entries, self.entries * r["seconds"])


def _gram_rate(spec, shape) -> dict:
    """Per entry, over tiles of `infinite.kernels`' own size: one row of tiles, twice as many
    columns until it takes `PROBE_SECONDS` (or 64 tiles)."""
    block = max(2, infinite.block_size(shape, 4, jax.devices()[0].platform))
    x = _inputs(shape, 65 * block)
    tiles = 1
    seconds, compile_seconds = _compiled_and_timed(lambda: infinite.kernels(spec, x[:block], x[block:2 * block]))
    while seconds < PROBE_SECONDS and tiles < 64:
        tiles *= 2
        seconds = _timed(lambda: infinite.kernels(spec, x[:block], x[block:(tiles + 1) * block]))
    scales = (infinite._self_scales(spec, x[:block]), infinite._self_scales(spec, x[block:2 * block]))
    flops, moved, temp = _xla(lambda a, b, s1, s2: infinite._pair_kernels(spec, a, b, s1, s2),
                              x[:block], x[block:2 * block], *scales)
    return {"seconds": seconds / (tiles * block * block), "flops": flops / block**2, "moved": moved / block**2,
            "device": temp, "compile": compile_seconds}


class Training(NamedTuple):
    """`nets` networks `spec`, each `steps` SGD steps of `batch` examples of `shape` drawn
    from `n`, and `evals` forward passes on evaluation inputs."""

    spec: models.Spec
    shape: tuple[int, ...]
    n: int
    steps: int
    batch: int
    nets: int = 1
    evals: int = 0

    def _rates(self, probe: Probe) -> dict:
        return probe.rate(("train", self.spec, self.shape, self.batch),
                          functools.partial(_train_rate, self.spec, self.shape, self.batch, probe.memory))

    def compile(self, probe: Probe) -> tuple:
        """Its program's key (each n, length and number of networks compile anew) and seconds."""
        return self._replace(evals=bool(self.evals)), self._rates(probe)["compile"]

    def need(self, probe: Probe) -> Need:
        r = self._rates(probe)
        work = self.nets * self.steps
        data = 4.0 * self.n * math.prod(self.shape)
        return Need(0, work * r["flops"] + self.nets * self.evals * r["forward_flops"],
                    work * r["moved"], data + self.nets * (3 * 4.0 * r["parameters"] + r["device"]),
                    data, work * r["seconds"] + (self.nets * self.evals * r["forward_seconds"] if self.evals else 0))


def _train_rate(spec, shape, batch, memory) -> dict:
    """Per step of `batch` and per forward example, from `train.fit_mse` itself: a run of 4
    steps against a run about `PROBE_SECONDS` longer (the steps' difference, so that the
    run's fixed costs drop out). Steps whose 4 take over `PROBE_FLOPS` are timed at a batch
    cut to fit and scaled in proportion (an accelerator that a small batch leaves idle then
    reads slower than it is). Not timed (infinite seconds) where XLA's count of a step's
    memory is over half the device's `memory`, or where the run's allocation fails (its
    device bytes are then what it asked for)."""
    params = jax.eval_shape(lambda: _params(spec, shape))
    count = sum(math.prod(p.shape) for p in jax.tree.leaves(params))
    net = models.network(spec)
    x = _inputs(shape, 4 * batch)
    y = np.sign(x.reshape(len(x), -1)[:, 0])

    def loss(p, xb, yb):
        return jnp.mean((jnp.ravel(net.apply({"params": p}, xb)) - yb) ** 2)

    flops, moved, temp = _xla(jax.grad(loss), params, x[:batch], y[:batch])
    forward_flops = _xla(lambda p, xb: net.apply({"params": p}, xb), params, x)[0] / len(x)
    rates = {"seconds": math.inf, "flops": flops, "moved": moved, "device": temp, "forward_seconds": math.inf,
             "forward_flops": forward_flops, "parameters": count, "compile": 0.0}
    if 3 * 4 * count + temp > memory / 2:
        return rates
    params = _params(spec, shape)
    small = max(1, min(batch, int(batch * PROBE_FLOPS / (4 * flops)))) if flops else batch
    x, y = x[:4 * small], y[:4 * small]

    def fit(epochs):
        return train.fit_mse(spec, jax.tree.map(jnp.copy, params), x, y, key=jax.random.PRNGKey(0), lr=1e-3,
                             batch_size=small, epochs=epochs, momentum=0.9).train_mse

    try:
        short, compile_seconds = _compiled_and_timed(fit, 1)
        epochs = 1 + min(1000, max(2, math.ceil(PROBE_SECONDS / max(short, 1e-6))))
        step = (_timed(fit, epochs) - short) / (4 * (epochs - 1))
        forward = _timed(jax.jit(lambda p, xb: net.apply({"params": p}, xb)), params, x)
    except Exception as err:
        asked = _out_of_memory(err)
        if asked is None:
            raise
        return rates | {"device": max(temp, asked)}
    return rates | {"seconds": (step if step > 0 else short / 4) * batch / small, "forward_seconds": forward / len(x),
                    "compile": compile_seconds}


class EmpiricalGram(NamedTuple):
    """The ENTK Gram of `spec` at width on `rows` x `cols` inputs of `shape` (`square`: one
    symmetric Gram of `rows` inputs, its upper blocks only)."""

    spec: models.Spec
    shape: tuple[int, ...]
    rows: int
    cols: int
    square: bool = True

    def _rates(self, probe: Probe) -> dict:
        return probe.rate(("entk", self.spec, self.shape),
                          functools.partial(_entk_rate, self.spec, self.shape, probe.memory))

    def compile(self, probe: Probe) -> tuple:
        return ("entk", self.spec, self.shape), self._rates(probe)["compile"]

    def need(self, probe: Probe) -> Need:
        r = self._rates(probe)
        points = self.rows if self.square else self.rows + self.cols
        products = self.rows * (self.rows + 256) / 2 if self.square else self.rows * self.cols
        block = 4.0 * 256 * r["parameters"]  # a row block's Jacobians, and at least one column block's
        panel = min(empirical.JACOBIAN_BYTES, 4.0 * points * r["parameters"])
        held = block + max(block, panel) if r["jacobians"] else 0.0
        return Need(self.rows * self.cols, points * r["point_flops"] + products * r["pair_flops"],
                    points * r["point_moved"] + 4.0 * self.rows * self.cols, held + r["device"],
                    4.0 * self.rows * self.cols, points * r["point_seconds"] + products * r["pair_seconds"])


def _entk_rate(spec, shape, memory) -> dict:
    """Per input (its Jacobian, or an MLP's layer factors) and per pair (a product), from
    the two halves of `empirical.ntk` timed apart on one block of its inputs; not timed
    (infinite seconds) where a block's Jacobians are over half the device's `memory` or an
    allocation fails."""
    params = _params(spec, shape)
    count = sum(p.size for p in jax.tree.leaves(params))
    jacobians = not all(isinstance(layer, (models.Dense, models.Relu, models.Flatten)) for layer in spec)
    points = 256
    x = _inputs(shape, points)
    factors = functools.partial(empirical._jacobian if jacobians else empirical._mlp_factors, spec)
    flops, moved, temp = _xla(factors, params, x)
    rates = {"point_seconds": math.inf, "point_flops": flops / points, "compile": 0.0, "point_moved": moved / points,
             "pair_seconds": math.inf, "pair_flops": 2.0 * count, "device": temp, "parameters": count,
             "jacobians": jacobians}
    if jacobians and 4 * points * count + temp > memory / 2:
        return rates
    try:
        point_seconds, compile_seconds = _compiled_and_timed(factors, params, x)
        if jacobians:
            j = np.asarray(factors(params, x))
            pair_seconds = _timed(jax.jit(lambda a: a @ a.T), j) / points**2
        else:
            f = factors(params, x)
            pair_seconds = _timed(functools.partial(empirical._mlp_gram, spec), f, f) / points**2
            rates["pair_flops"] = _xla(functools.partial(empirical._mlp_gram, spec), f, f)[0] / points**2
    except Exception as err:
        asked = _out_of_memory(err)
        if asked is None:
            raise
        return rates | {"device": max(temp, asked)}
    return rates | {"point_seconds": point_seconds / points, "compile": compile_seconds, "pair_seconds": pair_seconds}


class KernelFit(NamedTuple):
    """Full-batch heavy-ball GD on an n x n Gram to `horizon` steps, predictions on `m`
    points at `points` steps (`kernel_train.early_stopped_error`, `gd_trajectory`), by the
    method `kernel_train.fit_method` picks: an `eigh` in float64 on the host (numpy, one
    thread in a worker), or stepping on the device."""

    n: int
    m: int
    horizon: int = 100_000
    points: int = 30

    @property
    def method(self) -> str:
        return kernel_train.fit_method(self.n, self.m, self.horizon, points=self.points)

    def compile(self, probe: Probe) -> tuple | None:
        if self.method == "eigh":
            return None
        return ("matfree", self.n, self.m, self.points), probe.rate(("matfree",), _matfree_rate)["compile"]

    def need(self, probe: Probe) -> Need:
        n, m = float(self.n), float(self.m)
        project = 2 * m * n * self.points
        if self.method == "eigh":
            r = probe.rate(("eigh",), _eigh_rate)
            return Need(0, kernel_train.EIGH_FLOPS * n**3 + 2 * m * n * n + project, n**3 / 8,
                        0, 8 * (3 * n * n + 2 * m * n), r["seconds"] * n**3)
        r = probe.rate(("matfree",), _matfree_rate)
        steps = self.horizon * n * n
        return Need(0, 2 * steps + project, 4 * steps, 4 * (n * n + m * n), 4 * (n * n + m * n),
                    r["seconds"] * steps)


def _psd(n: int) -> np.ndarray:
    a = np.random.default_rng(0).normal(size=(n, n // 2)).astype(np.float32)
    return a @ a.T / n


def _eigh_rate() -> dict:
    n = 768
    k = _psd(n).astype(np.float64)
    return {"seconds": _timed(np.linalg.eigh, k) / n**3}


def _matfree_rate() -> dict:
    n, steps = 1024, 200
    k = _psd(n)
    y = np.sign(k[:, 0])
    seconds, compile_seconds = _compiled_and_timed(lambda: kernel_train.gd_trajectory(
        k, k[:1], y, lr=1.0, momentum=0.9, steps=[steps], method="matfree"))
    return {"seconds": seconds / (steps * n * n), "compile": compile_seconds}


class KernelSGD(NamedTuple):
    """Minibatch SGD with momentum on the coefficients of an n x n Gram
    (`kernel_train.sgd_trajectory`): `steps` of `batch`, predictions on `m` points at
    `points` steps."""

    n: int
    m: int
    steps: int
    batch: int
    points: int

    def compile(self, probe: Probe) -> tuple:
        return self, probe.rate(("sgd",), _sgd_rate)["compile"]

    def need(self, probe: Probe) -> Need:
        r = probe.rate(("sgd",), _sgd_rate)
        work = float(self.steps) * self.batch * self.n + float(self.points) * self.m * self.n
        held = 4.0 * self.n * (self.n + self.m)
        return Need(0, 2 * work, 4 * work, held, held, r["seconds"] * work)


def _sgd_rate() -> dict:
    n, steps, batch = 1024, 400, 64
    k = _psd(n)
    y = np.sign(k[:, 0])
    seconds, compile_seconds = _compiled_and_timed(lambda: kernel_train.sgd_trajectory(
        k, k[:1], y, key=jax.random.PRNGKey(0), lr=1e-3, momentum=0.9, batch_size=batch, steps=[steps]))
    return {"seconds": seconds / (steps * batch * n), "compile": compile_seconds}


class Solve(NamedTuple):
    """`count` dense float64 solves (or eigendecompositions without vectors) of n x n systems."""

    n: int
    count: int = 1

    def compile(self, probe: Probe) -> None:
        return None

    def need(self, probe: Probe) -> Need:
        r = probe.rate(("solve",), _solve_rate)
        n = float(self.n)
        return Need(0, self.count * n**3 / 3, self.count * 8 * n * n, 0, 8 * 2 * n * n,
                    self.count * r["seconds"] * n**3)


def _solve_rate() -> dict:
    n = 768
    k = _psd(n).astype(np.float64) + np.eye(n)
    return {"seconds": _timed(np.linalg.solve, k, k[:, :1]) / n**3}


Unit = InfiniteGram | Training | EmpiricalGram | KernelFit | KernelSGD | Solve


class Stage(NamedTuple):
    """The cells a claim maps under `label` (the runner's progress label), each the units
    of work it does one after another; `key` identifies the cells, so that a stage whose
    cells an earlier stage computed (the same cells in the store) costs nothing."""

    label: str
    cells: tuple[tuple[Unit, ...], ...]
    key: object = None


class Row(NamedTuple):
    """A stage's plan on a device: its cells, their total need (its seconds include
    compiling the programs no earlier stage compiled), the largest cell's peaks, the
    wall-clock estimate over the workers, the fit methods chosen, and its cells that do not
    fit the device's or the host's memory."""

    claim: str
    label: str
    cells: int
    need: Need
    wall_seconds: float
    methods: tuple[str, ...]
    too_big: int
    shared: str = ""


def plan_rows(claim: str, stages: Sequence[Stage], probe: Probe, seen: dict | None = None,
              compiled: set | None = None) -> list[Row]:
    """One `Row` per stage of `claim`, measured on `probe`'s device. `seen` maps the keys of
    stages already planned (by this claim or earlier ones) to their claim and label;
    `compiled` holds the programs they compile (a run compiles each once: the pool's
    workers share compiled programs through the store)."""
    rows = []
    seen = {} if seen is None else seen
    compiled = set() if compiled is None else compiled
    for stage in stages:
        if stage.key is not None and stage.key in seen:
            rows.append(Row(claim, stage.label, len(stage.cells), Need(), 0.0, (), 0, seen[stage.key]))
            continue
        if stage.key is not None:
            seen[stage.key] = f"{claim}: {stage.label}"
        per_cell = [combined([u.need(probe) for u in cell]) for cell in stage.cells]
        total = combined(per_cell)
        programs = dict(c for cell in stage.cells for u in cell if (c := u.compile(probe)) and c[0] not in compiled)
        compiled.update(programs)
        total = total._replace(seconds=total.seconds + sum(programs.values()))
        methods = sorted({u.method for cell in stage.cells for u in cell if isinstance(u, KernelFit)})
        too_big = sum(c.device > probe.memory or c.host > host_memory() for c in per_cell)
        workers = min(probe.workers(), max(1, len(stage.cells)))
        rows.append(Row(claim, stage.label, len(stage.cells), total, total.seconds / workers,
                        tuple(methods), too_big))
    return rows


def _si(x: float, unit: str = "") -> str:
    if not x:
        return "-"
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}".rstrip()


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "not probed: over memory"
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _cells(count: int) -> str:
    return f"{count} cell{'s' * (count > 1)}" if count else ""


HEADER = ("claim", "stage", "cells", "kernel entries", "FLOPs", "bytes moved", "peak device / host per cell",
          "fits", "time", "over memory")


def table(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """`rows` as text cells under `HEADER`, with each claim's total after its stages."""
    out = []
    for claim in dict.fromkeys(r.claim for r in rows):
        mine = [r for r in rows if r.claim == claim]
        for r in mine:
            out.append((claim, r.label, str(r.cells), _si(r.need.entries), _si(r.need.flops), _si(r.need.moved, "B"),
                        f"{_si(r.need.device, 'B')} / {_si(r.need.host, 'B')}", ", ".join(r.methods),
                        duration(r.wall_seconds), _cells(r.too_big))
                       if not r.shared else (claim, r.label, str(r.cells), "", "", "", "", "",
                                             f"0 (the cells of {r.shared})", ""))
        total = combined([r.need for r in mine])
        out.append((claim, "total", str(sum(r.cells for r in mine)), _si(total.entries), _si(total.flops),
                    _si(total.moved, "B"), f"{_si(total.device, 'B')} / {_si(total.host, 'B')}", "",
                    duration(sum(r.wall_seconds for r in mine)),
                    _cells(sum(r.too_big for r in mine))))
    return out


def text(rows: Sequence[Row], device: str) -> list[str]:
    """The plan as lines of aligned columns, its device named."""
    cells = [HEADER] + table(rows)
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADER))]
    return [f"measured on {device}; time: over the workers"] + [
        "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]


def markdown(rows: Sequence[Row], device: str) -> str:
    """The plan as a Markdown table, its device named (for the README's cost table)."""
    lines = [f"Measured on {device}:", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in table(rows)]
    return "\n".join(lines)
