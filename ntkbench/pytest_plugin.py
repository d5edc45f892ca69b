"""The pytest side of ntkbench: options, markers, the `bench` fixture, the report.

Claims are computed once per session (whatever number of tests read them), through the
result store; at the end of the session the report is written and its path printed.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ntkbench import baselines, compare, config, machine
from ntkbench.claims import registry
from ntkbench.config import GPU_SCALES
from ntkbench.data.errors import DataError
from ntkbench.provenance import provenance
from ntkbench.results import CONTROL, DECISION, ClaimResult
from ntkbench.runner import EXECUTORS, Runner
from ntkbench.stats import SUPPORTED
from ntkbench.store import Store

if TYPE_CHECKING:
    from ntkbench import experiment

BENCH = pytest.StashKey["Bench"]()


def pytest_addoption(parser):
    group = parser.getgroup("ntkbench", "ntkbench: NTK claims benchmark")
    group.addoption("--scale", choices=config.SCALES, default="quick",
                    help="quick: small CPU-sized experiments (default); full: the papers' data and "
                         "architectures at one GPU's day; paper: the papers' own ranges, for a cluster "
                         "(README: Presets and their cost).")
    group.addoption("--data-dir", default=os.environ.get("NTKBENCH_DATA_DIR"),
                    help="folder with local copies of full-scale datasets (CIFAR-5m, CIFAR-10, "
                         "SVHN); default $NTKBENCH_DATA_DIR.")
    group.addoption("--cache-dir", default=".ntkbench-cache",
                    help="result store; a re-run computes only what is missing (default "
                         ".ntkbench-cache). Pass an empty string to disable caching.")
    group.addoption("--executor", choices=("auto",) + EXECUTORS, default="auto",
                    help="where sweep cells run: process (a spawn pool, one single-threaded worker "
                         "pinned to each core), local (this process, one cell after another; for "
                         "debugging and for an accelerator), dask (dask.distributed: the cluster at "
                         "--dask-scheduler, else a local cluster) or auto (default: local when JAX "
                         "sees a GPU or TPU, else process).")
    group.addoption("--dask-scheduler", default=None, metavar="ADDRESS",
                    help="with --executor=dask: the address of a running dask scheduler, e.g. "
                         "tcp://10.0.0.5:8786 (default: start a local cluster).")
    group.addoption("--plan", action="store_true",
                    help="price the selected claims at --scale without computing them: per claim and stage "
                         "the cells, kernel entries, FLOPs, bytes moved, peak memory per cell and the time, "
                         "from a short probe of this device; cells over its memory are flagged. Prints the "
                         "table and writes it as the report (README: Presets and their cost).")
    group.addoption("--regen-baselines", action="store_true",
                    help="write this run's statistics as the quick-scale baselines.")
    group.addoption("--baselines-dir", default=str(baselines.ROOT),
                    help="folder of <scale>/<claim>.json baselines (default: the suite's own).")
    group.addoption("--report-dir", default="reports",
                    help="where reports/<run-id>/index.html and results.json go (default reports).")
    group.addoption("--compare-to", default=None, metavar="PATH",
                    help="an earlier run's results.json, or its report folder: the report lists the "
                         "verdicts that changed, the statistics that moved (against the earlier CI) "
                         "and the environment differences.")
    group.addoption("--claims-module", action="append", default=[], metavar="MODULE",
                    help="an importable module that defines a claim of your own (`DEFINITION = "
                         "Claim(...)`, README: Adding a claim); repeat for several.")
    group.addoption("--experiment", default=None, metavar="PATH",
                    help="a YAML file describing your own architecture and binary .npz data for the "
                         "protocol claims (exponent, width, after-kernel, kernel evolution; README: Your "
                         "own model and data); their baseline tests are skipped, the other claims not run.")


def pytest_configure(config):
    for line in (
        "claim(name): the test decides (part of) the named claim; it appears in the report.",
        "oracle: compares against neural-tangents; runs in the oracle environment only.",
        "full_only: meaningful only with the papers' data (--scale=full or paper); skipped at quick scale.",
    ):
        config.addinivalue_line("markers", line)
    if config.getoption("regen_baselines") and config.getoption("scale") != "quick":
        raise pytest.UsageError("--regen-baselines works at --scale=quick only: the full and paper "
                                "baselines are the papers' published numbers, edited by hand with their source.")
    if config.getoption("regen_baselines") and config.getoption("experiment"):
        raise pytest.UsageError("--regen-baselines cannot be combined with --experiment: the suite's baselines "
                                "are its own experiments', which yours would overwrite.")
    config.stash[BENCH] = bench = Bench(config)
    config.pluginmanager.register(bench, "ntkbench-bench")


def pytest_collection_modifyitems(config, items):
    bench = config.stash[BENCH]
    skip_full = pytest.mark.skip(reason="full-scale only (run with --scale=full)")
    for item in items:
        if config.getoption("scale") not in GPU_SCALES and item.get_closest_marker("full_only"):
            item.add_marker(skip_full)
        marker = item.get_closest_marker("claim")
        if marker:
            bench.tests.setdefault(marker.args[0], {})[item.nodeid] = "not run"
    if bench.tests:
        bench.prepare()
    if bench.experiment:
        for item in items:
            marker = item.get_closest_marker("claim")
            if marker and bench.claims[marker.args[0]].with_experiment is None:
                item.add_marker(pytest.mark.skip(reason=f"{marker.args[0]} does not take --experiment (the "
                                                        "protocol claims do)"))


def pytest_collection_finish(session):
    """With --plan: prices the claims of the tests selected (after -k and -m), which are skipped."""
    if not session.config.getoption("plan"):
        return
    marked = [item for item in session.items if item.get_closest_marker("claim")]
    session.config.stash[BENCH].plan({item.get_closest_marker("claim").args[0] for item in marked})
    for item in marked:
        item.add_marker(pytest.mark.skip(reason="--plan: priced, not computed"))


def claim_config(config: pytest.Config, claim: str):
    """The config `claim` runs with in this session: its preset at --scale, with
    --experiment applied; suites parametrize their tests by it."""
    return config.stash[BENCH].config_of(claim)


@pytest.fixture(scope="session")
def bench(request) -> "Bench":
    """Runs claims (once per session) and checks them against their baselines."""
    return request.config.stash[BENCH]


class Bench:
    """Session state: claim results, baseline checks, test outcomes; writes the report."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.scale = config.getoption("scale")
        cache = config.getoption("cache_dir")
        self.store = Store(cache or None)
        self.progress = _TerminalProgress(config)
        self.runner = Runner(self.store, _executor(config.getoption("executor")), self.progress,
                             config.getoption("dask_scheduler"))
        self.results: dict[str, ClaimResult] = {}
        self.errors: dict[str, str] = {}
        self.baseline_errors: dict[str, str] = {}
        self.baselines_dir = Path(config.getoption("baselines_dir"))
        self.checks: dict[str, list[baselines.Check]] = {}
        self.stored: dict[str, dict] = {}
        self.tests: dict[str, dict[str, str]] = {}
        self.summary: list[str] = []
        self.plan_rows: list = []
        self.earlier = _earlier_run(config.getoption("compare_to"), self.scale)
        self.experiment = _experiment(config.getoption("experiment"))

    @functools.cached_property
    def claims(self) -> dict[str, registry.Claim]:
        """ntkbench's claims and those of --claims-module, by name, in the order of the report."""
        try:
            return registry.load(self.config.getoption("claims_module"))
        except registry.RegistryError as err:
            raise pytest.UsageError(str(err)) from None

    def config_of(self, claim: str):
        """The claim's preset at this session's scale, with --experiment applied where it takes one."""
        definition = self.claims[claim]
        cfg = definition.config(self.scale)
        if self.experiment and definition.with_experiment:
            return definition.with_experiment(cfg, self.experiment)
        return cfg

    def no_baseline(self, claim: str) -> str | None:
        """Why the claim's run has no baseline to compare with (None: it has one)."""
        if self.experiment:
            return (f"no baseline: this run is the experiment {self.experiment.path}, for which ntkbench "
                    "stores none; the verdicts stand on their own")
        return None

    def prepare(self) -> None:
        """Before any claim runs: every claim the tests name is registered, the report and
        cache folders are writable and the executor starts, so that a bad claims module or
        folder or an unreachable cluster costs no computation."""
        unknown = sorted(set(self.tests) - set(self.claims))
        if unknown:
            raise pytest.UsageError(
                f"tests are marked claim({unknown[0]!r}), a claim no module registers (registered: "
                f"{', '.join(self.claims)}); pass the module that defines it with --claims-module=MODULE.")
        folders = [("--report-dir", self.config.getoption("report_dir"))]
        if self.store.root is not None:
            folders.append(("--cache-dir", self.store.root))
        for option, folder in folders:
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
                probe = Path(folder) / f".ntkbench-write-test-{os.getpid()}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as err:
                raise pytest.UsageError(
                    f"{option} {folder} is not a writable folder ({err.strerror or err}). Pass a "
                    f"folder you can write to with {option}=PATH; nothing has been computed yet.") from None
        try:
            self.runner.start()
        except RuntimeError as err:
            raise pytest.UsageError(f"the {self.runner.executor} executor could not start: {err}") from None

    def plan(self, selected: set[str]) -> None:
        """Prices the `selected` claims (`ntkbench.cost`): their stages at this session's
        scale, each unit of work probed once on this device; nothing is computed."""
        from ntkbench import cost

        probe, seen, compiled, start = cost.Probe(), {}, set(), time.perf_counter()
        named = [c for c in self.claims if c in selected]
        for i, claim in enumerate(named):
            self.progress("plan (probing this device)", i, len(named), time.perf_counter() - start)
            stages = self.claims[claim].stages
            if stages is None:
                self.summary.append(f"ntkbench --plan: {claim} declares no stages, so it is not priced")
                continue
            self.plan_rows += cost.plan_rows(claim, stages(self.config_of(claim)), probe, seen, compiled)
        self.progress("plan (probing this device)", len(named), len(named), time.perf_counter() - start)
        self.plan_device = probe.describe()
        self.summary += ["", f"ntkbench --plan, --scale={self.scale}:", *cost.text(self.plan_rows, self.plan_device)]

    def run(self, claim: str) -> ClaimResult:
        """The claim's result at this session's scale, computed on first use."""
        if claim in self.errors:
            pytest.fail(f"claim {claim} could not be run: {self.errors[claim]}", pytrace=False)
        if claim not in self.results:
            definition = self.claims[claim]
            try:
                result = definition.run(self.config_of(claim), self.runner,
                                        data_dir=self.config.getoption("data_dir"))
            except DataError as err:
                self.errors[claim] = str(err)
                pytest.fail(f"claim {claim} could not be run: {err}", pytrace=False)
            except Exception as err:
                self.errors[claim] = f"{type(err).__name__}: {err}"
                raise
            self.results[claim] = result
            if self.config.getoption("regen_baselines"):
                file = baselines.regenerate(
                    result, {n: definition.quick_tolerance(n) for n in result.statistics},
                    run_provenance(), self.baselines_dir)
                self.summary.append(f"ntkbench: wrote baseline {file}")
            if self.no_baseline(claim):
                return result
            try:
                baseline = baselines.load(self.scale, claim, self.baselines_dir)
                self.stored[claim] = baseline["statistics"]
                self.checks[claim] = baselines.compare(result, baseline)
            except baselines.BaselineError as err:
                self.baseline_errors[claim] = str(err)
            result.notes += [f"{c.statistic}: {c.note}" for c in self.checks.get(claim, [])
                             if c.note.startswith("fragile")]
        return self.results[claim]

    def did_not_reproduce(self, claim: str, explanations: dict[str, str]) -> dict[str, str]:
        """The claim's decisions (and controls) that its stored baseline records as not as
        claimed (`baselines.not_as_claimed`), each with the baseline's numbers and the suite's
        explanation: the strict xfails of a run of that same preset. A run with no stored
        baseline of its own (--experiment) expects nothing; a missing or malformed baseline
        fails the baseline test, not collection."""
        if self.no_baseline(claim):
            return {}
        try:
            expected = baselines.not_as_claimed(baselines.load(self.scale, claim, self.baselines_dir))
        except baselines.BaselineError:
            return {}
        return {name: f"{self.scale} baseline: {numbers}" + (f": {explanations[name]}" if name in explanations else "")
                for name, numbers in expected.items()}

    def _skip_if_fragile(self, claim: str, stat) -> None:
        """Skips the test of a verdict that differs from the baseline's where numeric noise
        decided it (a fragile verdict, or one governed by a choice that changed on a knife
        edge), which would otherwise fail or XPASS."""
        check = next((c for c in self.checks.get(claim, []) if c.statistic == stat.name), None)
        entry = self.stored.get(claim, {}).get(stat.name, {})
        if (check and (check.note.startswith("fragile") or check.note.endswith("on a knife edge"))
                and stat.verdict != entry.get("verdict")):
            pytest.skip(f"{stat.name}: {check.note}")

    def _statistic(self, claim: str, statistic: str, role: str):
        statistics = self.run(claim).statistics
        stat = statistics.get(statistic)
        if stat is None and statistic in getattr(statistics, "omitted", {}):
            pytest.skip(f"{claim} did not compute {statistic}: {statistics.omitted[statistic]}")
        if stat is None:
            pytest.fail(f"{claim} produced no statistic {statistic}", pytrace=False)
        if stat.role != role:
            pytest.fail(f"{claim}: {statistic} is a {stat.role}, not a {role}", pytrace=False)
        return stat

    def expect(self, claim: str, statistic: str) -> None:
        """Passes iff the decision `statistic` of `claim` is `supported`; skipped where its
        verdict is fragile (`baselines.fragile`) and not the baseline's: numeric noise, not
        the claim, decided it."""
        stat = self._statistic(claim, statistic, DECISION)
        self._skip_if_fragile(claim, stat)
        if stat.verdict != SUPPORTED:
            est = stat.estimate
            pytest.fail(f"{statistic}: {stat.verdict}, the claim needs supported: estimate {est.value:.5g}, "
                        f"95% CI [{est.low:.5g}, {est.high:.5g}] ({stat.description})", pytrace=False)

    def expect_control(self, claim: str, statistic: str) -> None:
        """Passes iff the negative control `statistic` of `claim` held (is not `supported`);
        skipped where its verdict is fragile and not the baseline's."""
        stat = self._statistic(claim, statistic, CONTROL)
        self._skip_if_fragile(claim, stat)
        if not stat.held:
            est = stat.estimate
            pytest.fail(f"negative control {statistic} came out supported: estimate {est.value:.5g}, "
                        f"95% CI [{est.low:.5g}, {est.high:.5g}]; the comparison it guards is broken "
                        f"({stat.description})", pytrace=False)

    def check_baseline(self, claim: str) -> None:
        """Passes iff every statistic of the claim's baseline is matched (value within its
        tolerance, verdict equal); lists every one that drifted. References (published
        numbers this preset's ranges cannot reproduce) are shown in the report, not checked."""
        self.run(claim)
        if self.no_baseline(claim):
            pytest.skip(self.no_baseline(claim))
        if claim in self.baseline_errors:
            pytest.fail(self.baseline_errors[claim], pytrace=False)
        checks = [c for c in self.checks[claim] if c.ok is not None]
        if not checks:
            note = baselines.load(self.scale, claim, self.baselines_dir).get("note", "")
            pytest.skip(f"the {self.scale} baseline of {claim} holds no statistic to compare "
                        f"({len(self.checks[claim])} references only): {note}")
        drifted = [f"{c.statistic}: measured {c.measured}, baseline {c.expected}" for c in checks if not c.ok]
        if drifted:
            pytest.fail(f"{len(drifted)} of {len(checks)} statistics of {claim} differ from the {self.scale} "
                        "baseline:\n" + "\n".join(drifted), pytrace=False)

    def pytest_runtest_logreport(self, report):
        for tests in self.tests.values():
            if report.nodeid in tests and (report.when == "call" or report.outcome != "passed"):
                outcome = report.outcome
                if hasattr(report, "wasxfail"):
                    outcome = "xfailed" if report.skipped else "xpassed"
                tests[report.nodeid] = outcome

    def pytest_sessionfinish(self):
        self.finish()

    def pytest_terminal_summary(self, terminalreporter):
        for line in self.summary:
            terminalreporter.write_line(line)

    def finish(self) -> None:
        self.runner.close()
        if self.plan_rows:
            self._write_plan()
        if not (self.results or self.errors):
            return
        ran = [c for c in self.claims if c in self.tests and (c in self.results or c in self.errors)]
        if not ran:
            return
        from ntkbench.report import html

        claims = [{"name": c, "result": self.results.get(c), "no_baseline": self.no_baseline(c),
                   "error": self.errors.get(c) or self.baseline_errors.get(c),
                   "checks": self.checks.get(c, []), "tests": sorted(self.tests[c].items())}
                  for c in ran]
        root, run = Path(self.config.getoption("report_dir")), html.run_id()
        directory, n = root / run, 1
        while directory.exists():
            n += 1
            directory = root / f"{run}-{n}"
        try:
            index = html.write(directory, scale=self.scale, provenance=run_provenance(), claims=claims,
                               cell_seconds=self.runner.cell_seconds, earlier=self.earlier)
        except OSError as err:
            self.summary.append(f"ntkbench: could not write the report to {directory} ({err}); "
                                "pass a writable folder with --report-dir.")
            return
        self.summary += [f"ntkbench: {event}" for event in self.store.events]
        self.summary.append(f"ntkbench report: {index.resolve()}")

    def _write_plan(self) -> None:
        from ntkbench import cost
        from ntkbench.report import html

        directory = Path(self.config.getoption("report_dir")) / f"plan-{html.run_id()}"
        try:
            index = html.write_plan(directory, scale=self.scale, provenance=run_provenance(),
                                    device=self.plan_device, header=cost.HEADER, rows=cost.table(self.plan_rows))
        except OSError as err:
            self.summary.append(f"ntkbench: could not write the plan to {directory} ({err}); "
                                "pass a writable folder with --report-dir.")
            return
        self.summary.append(f"ntkbench plan: {index.resolve()}")


def run_provenance() -> dict:
    """`provenance()` and the machine's CPU, instruction sets, XLA_FLAGS and BLAS
    (`machine.describe`)."""
    return provenance() | machine.describe()


def _earlier_run(path: str | None, scale: str) -> dict | None:
    """The run --compare-to names, read before any claim runs."""
    if path is None:
        return None
    try:
        return compare.load(path, scale)
    except compare.CompareError as err:
        raise pytest.UsageError(str(err)) from None


def _experiment(path: str | None) -> "experiment.Experiment | None":
    """The experiment --experiment names, read and checked before any claim runs."""
    if path is None:
        return None
    from ntkbench import experiment  # jax and flax: imported only by sessions that need them

    try:
        return experiment.load(path)
    except (experiment.ExperimentError, DataError) as err:
        raise pytest.UsageError(f"--experiment: {err}") from None


def _executor(choice: str) -> str:
    if choice != "auto":
        return choice
    import jax

    return "local" if jax.default_backend() != "cpu" else "process"


class _TerminalProgress:
    """One updating line per sweep (cells done / total, elapsed, ETA) on a terminal only."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.last = 0.0

    def __call__(self, label: str, done: int, total: int, elapsed: float) -> None:
        if self.config.get_verbosity() < 0 or not sys.stdout.isatty():
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.5:
            return
        self.last = now
        eta = f", ETA {elapsed / done * (total - done):.0f} s" if 0 < done < total else ""
        capman = self.config.pluginmanager.getplugin("capturemanager")
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        with capman.global_and_fixture_disabled():
            reporter.write(f"\r  {label}: {done}/{total} cells, {elapsed:.0f} s{eta}   ")
            if done == total:
                reporter.write("\n")


def parametrize(metafunc, explanations: dict[str, str], **names) -> None:
    """A suite's `pytest_generate_tests`: each fixture in `names` (fixture -> statistic names)
    that the test asks for is parametrized with `cases`. The strict xfails are the
    statistics that the claim's stored baseline at this scale records as not as claimed
    (`Bench.did_not_reproduce`), with the suite's `explanations` (statistic -> why)."""
    claim = metafunc.definition.get_closest_marker("claim").args[0]
    expected = metafunc.config.stash[BENCH].did_not_reproduce(claim, explanations)
    for fixture, statistics in names.items():
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, cases(statistics, expected))


def cases(names, did_not_reproduce: dict[str, str]) -> list:
    """pytest params for the statistics `names`; those in `did_not_reproduce` (name -> the
    reason) are strict xfails, so a verdict that flips XPASSes and fails the run."""
    return [pytest.param(n, id=n, marks=[pytest.mark.xfail(strict=True, reason=did_not_reproduce[n])]
                         if n in did_not_reproduce else []) for n in names]
