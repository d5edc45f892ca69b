"""Baseline files: clear errors for missing or malformed ones, and the comparison itself."""

import importlib.util
import json

import pytest

from ntkbench import baselines
from ntkbench.results import ClaimResult, Statistic, Statistics
from ntkbench.stats import Estimate


def _result(value=1.0, verdict="supported"):
    stats = {"a": Statistic("a", Estimate(value, value - 0.1, value + 0.1), "toy", "decision", +1, verdict)}
    return ClaimResult("toy", "Toy", "nowhere", "quick", stats, {}, {}, [])


def _write(root, content):
    (root / "quick").mkdir(parents=True, exist_ok=True)
    (root / "quick" / "toy.json").write_text(content)


def test_missing_file_names_it_and_the_remedy(tmp_path):
    with pytest.raises(baselines.BaselineError) as err:
        baselines.load("quick", "toy", tmp_path)
    assert str(tmp_path / "quick" / "toy.json") in str(err.value)
    assert "--regen-baselines" in str(err.value)


@pytest.mark.parametrize("content,fragment", [
    ("{not json", "malformed"),
    ('{"statistics": {"a": {"value": 1}}}', "tolerance"),
    ('{"statistics": {"a": {"value": 1, "tolerance": {"relative": -1}}}}', "bad tolerance"),
    ('{"statistics": {"a": {"verdict": "maybe"}}}', "unknown verdict"),
    ('{"statistics": {"a": {}}}', "neither"),
    ('{"claim": "toy"}', "statistics"),
])
def test_malformed_file_is_one_clear_error(tmp_path, content, fragment):
    _write(tmp_path, content)
    with pytest.raises(baselines.BaselineError, match=fragment) as err:
        baselines.load("quick", "toy", tmp_path)
    assert "toy.json" in str(err.value)


def test_compare_values_verdicts_and_missing(tmp_path):
    _write(tmp_path, json.dumps({"statistics": {
        "a": {"value": 1.05, "tolerance": {"relative": 0.1}, "verdict": "supported"},
        "b": {"verdict": "supported"}}}))
    base = baselines.load("quick", "toy", tmp_path)
    ok, missing = baselines.compare(_result(), base)
    assert ok.ok and not missing.ok and "missing" in missing.measured
    bad_value, _ = baselines.compare(_result(value=1.3), base)
    bad_verdict, _ = baselines.compare(_result(verdict="inconclusive"), base)
    assert not bad_value.ok and not bad_verdict.ok


def test_nan_never_matches(tmp_path):
    _write(tmp_path, json.dumps({"statistics": {"a": {"value": 1.0, "tolerance": {"absolute": 1e9}}}}))
    (check,) = baselines.compare(_result(value=float("nan")), baselines.load("quick", "toy", tmp_path))
    assert not check.ok


def test_regenerate_round_trips(tmp_path):
    file = baselines.regenerate(_result(), {"a": {"relative": 0.02}}, {"commit": "x"}, tmp_path)
    data = baselines.load("quick", "toy", tmp_path)
    assert file.exists() and data["provenance"] == {"commit": "x"}
    assert all(c.ok for c in baselines.compare(_result(), data))


def test_committed_baselines_are_well_formed():
    files = list(baselines.ROOT.glob("*/*.json"))
    assert files
    for file in files:
        baselines.load(file.parent.name, file.stem)


@pytest.mark.parametrize("scale", ["quick", "full", "paper"])
def test_swapping_two_rmse_kernel_formulas_fails_the_baseline(scale):
    """Every kernel row of the RMSE table is pinned tightly enough that a result whose two
    rows were computed with each other's formula fails: GP1, NTKJ1 and NTKB1 lie within
    0.9% of one another."""
    from ntkbench.claims import nn_vs_ntk_rmse

    base = baselines.load(scale, nn_vs_ntk_rmse.CLAIM)
    rows = [r for r in nn_vs_ntk_rmse.KERNEL_ROWS if f"rmse/{r}" in base["statistics"]]
    assert len(rows) >= 9

    def result(values):
        stats = {f"rmse/{r}": Statistic(f"rmse/{r}", Estimate(v, v, v), "") for r, v in values.items()}
        return ClaimResult(nn_vs_ntk_rmse.CLAIM, "", "", scale, stats, {}, {}, [])

    values = {r: base["statistics"][f"rmse/{r}"]["value"] for r in rows}
    assert all(c.ok for c in baselines.compare(result(values), {"statistics": {
        f"rmse/{r}": base["statistics"][f"rmse/{r}"] for r in rows}}))
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            swapped = values | {a: values[b], b: values[a]}
            checks = baselines.compare(result(swapped), base)
            assert not all(c.ok for c in checks if c.statistic in (f"rmse/{a}", f"rmse/{b}")), (a, b)


def test_a_reference_entry_is_shown_but_not_checked(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "toy.json").write_text(json.dumps({"statistics": {
        "a": {"value": 9.0, "tolerance": {"absolute": 0.1}, "reference": "another range"}}}))
    (check,) = baselines.compare(_result(), baselines.load("full", "toy", tmp_path))
    assert check.ok is None and "reference only: another range" in check.expected


def test_an_empty_reference_is_malformed(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "toy.json").write_text(json.dumps({"statistics": {
        "a": {"value": 9.0, "tolerance": {"absolute": 0.1}, "reference": ""}}}))
    with pytest.raises(baselines.BaselineError, match="reference"):
        baselines.load("full", "toy", tmp_path)


def test_the_paper_preset_checks_what_the_full_preset_only_shows():
    """The same published numbers in both files; at full scale the exponent, after-kernel and
    kernel-evolution numbers are references (cut ranges), at the paper preset targets."""
    for file in (baselines.ROOT / "paper").glob("*.json"):
        paper, full = baselines.load("paper", file.stem), baselines.load("full", file.stem)
        assert set(paper["statistics"]) == set(full["statistics"])
        assert not any("reference" in e for e in paper["statistics"].values())
        references = ["reference" in e for e in full["statistics"].values()]
        expected = file.stem in ("nn_vs_ntk_exponent", "after_kernel", "no_phase_transition")
        assert all(references) if expected else not any(references), file.stem


def _choice_result(kept, value=1.0, verdict="supported", margin=10.0):
    result = _result(value, verdict)
    result.statistics = Statistics(result.statistics)
    result.statistics.choose("widths kept/toy", kept, "trained widths", margin=margin, governs=["a"])
    return result


def test_a_changed_choice_is_one_failed_item_and_its_statistics_are_not_compared(tmp_path):
    baselines.regenerate(_choice_result([8, 16, 32]), {"a": {"absolute": 0.01}}, {}, tmp_path)
    base = baselines.load("quick", "toy", tmp_path)
    assert base["choices"] == {"widths kept/toy": {"value": [8, 16, 32], "margin": 10.0}}
    assert all(c.ok for c in baselines.compare(_choice_result([8, 16, 32]), base))
    choice, stat = baselines.compare(_choice_result([16, 32], value=1.5, verdict="inconclusive"), base)
    assert choice.ok is False and choice.note == "widths kept/toy changed from [8, 16, 32] to [16, 32]"
    assert stat.ok is None and stat.note == "not compared: widths kept/toy changed"
    # on a knife edge (here, or when the baseline was made) the change is reported as fragile
    choice, stat = baselines.compare(_choice_result([16, 32], value=1.5, verdict="inconclusive", margin=1.2), base)
    assert choice.ok and choice.note.startswith("fragile: widths kept/toy changed") and "margin 1.2" in choice.note
    assert stat.ok is None and stat.note.endswith("on a knife edge")


def test_a_regenerated_baseline_records_ci_and_role_and_the_xfails_come_from_it(tmp_path):
    stats = Statistics()
    stats.decide("d", Estimate(0.1, -0.1, 0.3), "a decision", direction=+1, diverged=0.0)
    stats.control("c", Estimate(0.5, 0.2, 0.8), "a control that failed", direction=+1, diverged=0.0)
    stats.control("k", Estimate(0.0, -0.2, 0.2), "a control that held", direction=+1, diverged=0.0)
    result = ClaimResult("toy", "Toy", "nowhere", "quick", stats, {}, {}, [])
    baselines.regenerate(result, {n: {"absolute": 0.01} for n in stats}, {}, tmp_path)
    base = baselines.load("quick", "toy", tmp_path)
    assert base["statistics"]["d"]["ci"] == [-0.1, 0.3] and base["statistics"]["c"]["role"] == "control"
    assert baselines.not_as_claimed(base) == {"d": "inconclusive, 0.1, CI [-0.1, 0.3]",
                                              "c": "supported, 0.5, CI [0.2, 0.8]"}
    for entry in base["statistics"].values():
        del entry["role"]  # as stored before baselines recorded roles: a control would read as a decision
    assert baselines.not_as_claimed(base) == {}


def test_spreads_between_machines_set_tolerances_and_mark_fragile_verdicts(tmp_path):
    baselines.regenerate(_result(1.0), {"a": {"relative": 1e-6}}, {}, tmp_path)
    base = baselines.load("quick", "toy", tmp_path)
    other = {"statistics": {"a": {"value": 1.02, "ci": [0.93, 1.14]}}}
    measured = baselines.measure_spread(base, [other])
    entry = measured["statistics"]["a"]
    assert entry["spread"] == pytest.approx({"value": 0.02, "low": 0.03, "high": 0.04})
    # three times the larger of the spread (0.02) and the standard error (0.2 / 4 = 0.05)
    assert entry["tolerance"] == {"absolute": pytest.approx(0.15)}
    assert all(c.ok for c in baselines.compare(_result(1.14), measured))
    assert not baselines.compare(_result(1.16), measured)[0].ok
    near_zero = _result(0.2, verdict="supported")  # CI [0.1, 0.3]: low end within 3 x 0.03 of 0?
    assert baselines.fragile(near_zero.statistics["a"], entry) is None
    edge = _result(0.15, verdict="inconclusive")  # CI [0.05, 0.25]: the low end is 0.05 <= 0.09
    note = baselines.fragile(edge.statistics["a"], entry)
    assert note.startswith("fragile") and "inconclusive here, supported in the baseline" in note
    (check,) = baselines.compare(edge, {"statistics": {"a": entry | {"value": 0.15}}})
    assert check.ok and check.note == note


def test_a_machine_exact_statistic_keeps_its_declared_tolerance(tmp_path):
    baselines.regenerate(_result(1.0), {"a": {"relative": 1e-6}}, {}, tmp_path)
    base = baselines.load("quick", "toy", tmp_path)
    other = {"statistics": {"a": {"value": 1.0 + 1e-12, "ci": [0.9, 1.1]}}}
    assert baselines.measure_spread(base, [other])["statistics"]["a"]["tolerance"] == {"relative": 1e-6}


def test_every_suite_explains_only_what_its_baseline_records_as_not_reproduced():
    """A suite's explanations (`WHY_NOT_REPRODUCED`) are of statistics whose stored quick
    verdict is not as claimed, so none outlives a baseline that changed."""
    suites = sorted((baselines.ROOT.parent / "suites").glob("test_*.py"))
    assert suites
    for file in suites:
        spec = importlib.util.spec_from_file_location(f"suite_{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        stored = baselines.not_as_claimed(baselines.load("quick", module.claim.CLAIM))
        assert set(module.WHY_NOT_REPRODUCED) <= set(stored), file.name
