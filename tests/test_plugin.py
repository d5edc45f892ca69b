"""The pytest plugin: options and their errors, claims run once, the report."""

import json
import re

import jax  # noqa: F401  in sys.modules before pytester's snapshot: jaxlib cannot load twice
import pytest

from ntkbench.claims import registry
from ntkbench.report import figures  # noqa: F401  likewise matplotlib: a second import breaks it

registry.load()  # likewise the claim modules (flax, optax), which every session with claim tests imports

TOY_CELLS = '''
def cell(i):
    return {"x": float(i)}
'''

TOY_CLAIM = '''
from ntkbench.claims.registry import Claim
from ntkbench.results import ClaimResult, Figure, Statistics
from ntkbench.runner import Cell
from ntkbench.stats import mean_ci
from toy_cells import cell

RUNS = []

def run(cfg, runner, data_dir=None):
    RUNS.append(cfg)
    xs = [r["x"] for r in runner.map([Cell("toy", cell, {"i": i}) for i in range(1, 5)], "toy")]
    statistics = Statistics()
    statistics.decide("mean", mean_ci(xs), "the mean", direction=+1, diverged=0.0)
    statistics.control("copy", mean_ci([x - 2.5 for x in xs]), "centred", direction=+1, diverged=0.0)
    return ClaimResult("toy", "A toy claim", "nowhere", cfg, statistics,
                       {"xs": xs}, {"scale": cfg}, ["four numbers"],
                       [Figure("xs", lambda ax: ax.plot(xs))])

def quick_tolerance(name):
    return {"relative": 0.01}

DEFINITION = Claim("toy", "A toy claim", "nowhere", lambda scale: scale, run, quick_tolerance)
'''

TOY_TESTS = '''
import pytest
pytestmark = pytest.mark.claim("toy")

def test_supported(bench):
    bench.expect("toy", "mean")

def test_control_holds(bench):
    bench.expect_control("toy", "copy")

def test_baseline(bench):
    bench.check_baseline("toy")

def test_runs_once(bench):
    import toy_claim
    bench.run("toy")
    assert len(toy_claim.RUNS) == 1
'''


@pytest.fixture
def toy(pytester):
    pytester.makepyfile(toy_cells=TOY_CELLS, toy_claim=TOY_CLAIM, test_toy=TOY_TESTS)
    pytester.syspathinsert()
    return pytester


def _run(pytester, *args, claims_module="toy_claim"):
    return pytester.runpytest_inprocess("-p", "ntkbench.pytest_plugin", "--executor=local",
                                        f"--claims-module={claims_module}",
                                        f"--cache-dir={pytester.path / 'cache'}",
                                        f"--baselines-dir={pytester.path / 'baselines'}",
                                        f"--report-dir={pytester.path / 'reports'}", *args)


@pytest.mark.parametrize("args,fragment", [
    (["--scale=huge"], "invalid choice: 'huge' (choose from 'quick', 'full', 'paper')"),
    (["--executor=threads"], "invalid choice: 'threads' (choose from 'auto', 'local', 'process', 'dask')"),
    (["--scale=full", "--regen-baselines"], "--regen-baselines works at --scale=quick only"),
])
def test_bad_options_are_usage_errors(pytester, args, fragment):
    result = pytester.runpytest_subprocess("-p", "ntkbench.pytest_plugin", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fragment in result.stderr.str()


def test_missing_baseline_fails_with_one_paragraph(toy):
    result = _run(toy)
    result.assert_outcomes(failed=1, passed=3)
    result.stdout.fnmatch_lines(["*baseline file*toy.json*does not exist*--regen-baselines*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("option", ["--report-dir", "--cache-dir"])
def test_unwritable_folder_is_a_usage_error_before_any_computation(toy, option):
    blocker = toy.path / "a-file"
    blocker.write_text("")
    result = _run(toy, f"{option}={blocker / 'sub'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{option} {blocker / 'sub'} is not a writable folder" in result.stderr.str()
    assert not list(toy.path.rglob("*.npz")) and "ntkbench report" not in result.stdout.str()


def test_missing_data_fails_the_claims_tests_with_one_paragraph(toy):
    toy.makepyfile(no_data_claim=TOY_CLAIM.replace("RUNS.append(cfg)", (
        "from ntkbench.data.errors import DataError\n"
        "    raise DataError(f'CIFAR-5m is not in {data_dir}: expected cifar5m_part0.npz ...')")))
    result = _run(toy, "--data-dir=/nowhere", claims_module="no_data_claim")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*claim toy could not be run: CIFAR-5m is not in /nowhere*"])
    assert "Traceback" not in result.stdout.str() and result.ret == pytest.ExitCode.TESTS_FAILED


def test_regen_then_check_and_report(toy):
    _run(toy, "--regen-baselines").assert_outcomes(passed=4)
    result = _run(toy)
    result.assert_outcomes(passed=4)
    (line,) = [out for out in result.stdout.lines if out.startswith("ntkbench report: ")]
    index = toy.path / line.split(": ", 1)[1]
    html = index.read_text()
    assert "A toy claim" in html and "data:image/png;base64," in html and "supported" in html
    assert "reproduced: 1 of 1 decisions supported, 1 of 1 negative controls held" in html
    data = json.loads((index.parent / "results.json").read_text())
    (claim,) = data["claims"]
    assert claim["result"]["measurements"]["xs"] == [1.0, 2.0, 3.0, 4.0]
    assert {o for _, o in claim["tests"]} == {"passed"}
    assert data["provenance"]["versions"]["jax"]
    assert data["cell_seconds"] == []  # the second run found every cell in the store


def test_drift_from_baseline_fails(toy):
    _run(toy, "--regen-baselines")
    file = toy.path / "baselines" / "quick" / "toy.json"
    data = json.loads(file.read_text())
    data["statistics"]["mean"]["value"] = 3.0
    file.write_text(json.dumps(data))
    result = _run(toy)
    result.assert_outcomes(failed=1, passed=3)  # the verdict test passes: only the baseline test fails
    result.stdout.fnmatch_lines(["*1 of 2 statistics of toy differ*",
                                 "*mean: measured 2.5, supported, baseline 3 ± 1%, supported*"])


FLIP_TESTS = '''
import pytest
from ntkbench.pytest_plugin import cases
pytestmark = pytest.mark.claim("toy")

@pytest.mark.parametrize("decision", cases(["mean"], {"mean": "measured inconclusive"}))
def test_decision(bench, decision):
    bench.expect("toy", decision)
'''


def test_a_verdict_that_flips_xpasses_a_strict_xfail(toy):
    toy.makepyfile(test_flip=FLIP_TESTS)
    result = _run(toy, "test_flip.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*measured inconclusive*"])


STORED_XFAIL_TESTS = '''
import pytest
from ntkbench.pytest_plugin import parametrize
pytestmark = pytest.mark.claim("toy")

def pytest_generate_tests(metafunc):
    parametrize(metafunc, {"mean": "why it did not reproduce"}, decision=["mean"])

def test_decision(bench, decision):
    bench.expect("toy", decision)

def test_baseline(bench):
    bench.check_baseline("toy")
'''


def _stored_verdict(toy, verdict, spread=None):
    """The toy's regenerated baseline with the decision `mean` stored as `verdict`."""
    _run(toy, "--regen-baselines")
    file = toy.path / "baselines" / "quick" / "toy.json"
    data = json.loads(file.read_text())
    data["statistics"]["mean"]["verdict"] = verdict
    if spread is not None:
        data["statistics"]["mean"]["spread"] = spread
    file.write_text(json.dumps(data))
    toy.makepyfile(test_stored=STORED_XFAIL_TESTS)


def test_a_strict_xfail_is_what_the_stored_baseline_records(toy):
    _stored_verdict(toy, "inconclusive")
    result = _run(toy, "test_stored.py", "-rxX")
    result.assert_outcomes(failed=2)  # the flip XPASSes, and the baseline's verdict no longer matches
    result.stdout.fnmatch_lines(["*XPASS(strict)*quick baseline: inconclusive, 2.5, CI *: why it did not reproduce*"])
    _stored_verdict(toy, "supported")
    _run(toy, "test_stored.py", "-rxX").assert_outcomes(passed=2)


def test_a_fragile_verdict_neither_fails_nor_xpasses(toy):
    """The CI's low end (0.448) lies within 3 x its measured spread between machines (0.2) of
    0: the stored `inconclusive` and this run's `supported` are numeric noise apart."""
    _stored_verdict(toy, "inconclusive", spread={"value": 0.01, "low": 0.2, "high": 0.01})
    result = _run(toy, "test_stored.py", "-rsxX")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*mean: fragile: the CI's low end 0.4* lies within 3 x its measured spread*"])
    html = _report(toy, result).read_text()
    assert ">1 / 1 match</span>" in html and ">1 fragile</span>" in html  # the control matches; the mean is neither
    assert re.search(r'<td class="stat">mean</td>.*?<span class="pill fragile"[^>]*>fragile</span></td></tr>',
                     html, re.S)


def test_full_only_marker_skips_at_quick(pytester):
    pytester.makepyfile("import pytest\n@pytest.mark.full_only\ndef test_big():\n    assert False\n")
    pytester.runpytest_inprocess("-p", "ntkbench.pytest_plugin").assert_outcomes(skipped=1)


def _report(pytester, result):
    (line,) = [out for out in result.stdout.lines if out.startswith("ntkbench report: ")]
    return pytester.path / line.split(": ", 1)[1]


def test_a_run_compared_with_an_earlier_one_names_the_changed_verdict_and_the_move(toy):
    first = _report(toy, _run(toy))
    toy.makepyfile(shifted_claim=TOY_CLAIM.replace('decide("mean", mean_ci(xs)',
                                                   'decide("mean", mean_ci([x - 3.0 for x in xs])'))
    second = _report(toy, _run(toy, f"--compare-to={first.parent}", claims_module="shifted_claim"))
    html = second.read_text()
    section = html[html.index(f"Compared with run {first.parent.name} ("):]
    assert "1 verdict changed, 1 statistic moved (largest 1.46 CI half-widths)" in section
    assert "This run computed no cell" in section  # its cells, in the unchanged toy_cells, were stored
    assert re.search(r'<td class="stat">mean</td>\s*<td><span class="pill supported">supported</span></td>'
                     r'.*?<span class="pill inconclusive">inconclusive</span>.*?-1\.46', section, re.S)
    comparison = json.loads((second.parent / "results.json").read_text())["comparison"]
    assert [(c["statistic"], c["old_verdict"], c["new_verdict"]) for c in comparison["verdicts"]] == [
        ("mean", "supported", "inconclusive")]
    assert [(c["statistic"], c["difference"]) for c in comparison["moved"]] == [("mean", -3.0)]
    assert "Compared with run" not in first.read_text()


@pytest.mark.parametrize("content,fragment", [
    (None, "does not exist. Pass --compare-to the results.json of an earlier run"),
    (json.dumps({"scale": "full", "provenance": {"date": "2024-07-01"}, "claims": []}),
     "is a run at --scale=full and this run is at --scale=quick"),
])
def test_a_bad_compare_to_is_a_usage_error_before_any_computation(toy, content, fragment):
    earlier = toy.path / "earlier.json"
    if content is not None:
        earlier.write_text(content)
    result = _run(toy, f"--compare-to={earlier}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--compare-to: {earlier} {fragment}" in result.stderr.str()
    assert not list(toy.path.rglob("*.npz")) and "ntkbench report" not in result.stdout.str()


@pytest.mark.parametrize("modules,fragment", [
    (["no_such_module"], "The claims module no_such_module cannot be imported"),
    (["plain_module"], "The claims module plain_module (*plain_module.py) defines no `DEFINITION = Claim(...)`"),
    (["copy_claim"], "The claims module copy_claim defines the claim 'nn_vs_ntk_exponent', a name another claim"),
    (["toy_claim", "toy_claim"], "The claims module toy_claim defines the claim 'toy', a name another claim"),
])
def test_a_bad_claims_module_is_a_usage_error_before_any_computation(toy, modules, fragment):
    toy.makepyfile(plain_module="X = 1\n",
                   copy_claim="from ntkbench.claims.nn_vs_ntk_exponent import DEFINITION\n")
    result = _run(toy, *[f"--claims-module={m}" for m in modules[1:]], claims_module=modules[0])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{fragment}*"])
    assert not list(toy.path.rglob("*.npz"))


def test_a_claim_no_module_registers_is_a_usage_error(toy):
    toy.makepyfile(other_claim=TOY_CLAIM.replace('Claim("toy"', 'Claim("other"'))
    result = _run(toy, claims_module="other_claim")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tests are marked claim('toy'), a claim no module registers*--claims-module*"])


def test_plan_prices_the_claims_without_computing_them(toy):
    stages = "stages=lambda cfg: [cost.Stage('toy', ((cost.Solve(64),),) * 4)])"
    toy.makepyfile(planned_claim=TOY_CLAIM.replace("quick_tolerance)", f"quick_tolerance, {stages}")
                   + "from ntkbench import cost\n")
    result = _run(toy, "--plan", claims_module="planned_claim")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*ntkbench --plan, --scale=quick:*", "*claim*stage*cells*time*", "toy*toy*4*",
                                 "ntkbench plan: *index.html"])
    assert not list(toy.path.rglob("*.npz"))
    (line,) = [out for out in result.stdout.lines if out.startswith("ntkbench plan: ")]
    html = (toy.path / line.split(": ", 1)[1]).read_text()
    assert "Nothing of the experiment was computed" in html and "<td>toy</td>" in html
    unplanned = _run(toy, "--plan")
    unplanned.assert_outcomes(skipped=4)
    unplanned.stdout.fnmatch_lines(["*toy declares no stages, so it is not priced*"])
