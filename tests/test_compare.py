"""Two runs compared (ntkbench.compare) on hand-made results.json contents."""

import json
import math

import pytest

from ntkbench import compare

PROVENANCE = {"commit": "abc123", "versions": {"jax": "0.4.30", "jaxlib": "0.4.30", "numpy": "2.0.1"},
              "python": "3.11.9", "backend": "cpu", "devices": ["TFRT_CPU_0"],
              "machine": "x86_64, 2 cores", "date": "2024-07-01T10:00:00+00:00"}


def _stat(value, low, high, verdict=None, role=None):
    entry = {"value": value, "ci": [low, high], "description": "", "role": role or "measurement"}
    if verdict:
        entry |= {"direction": 1, "verdict": verdict, "role": role or "decision"}
    return entry


def _run(claims, run_id="20240701-100000", **provenance):
    return {"run_id": run_id, "scale": "quick", "provenance": PROVENANCE | provenance,
            "claims": [{"name": name, "error": None, "tests": [], "checks": [],
                        "result": None if stats is None else {"statistics": stats}}
                       for name, stats in claims.items()]}


def test_moves_are_sized_by_the_earlier_ci_and_sorted_largest_first():
    earlier = _run({"a": {"small": _stat(1.0, 0.0, 2.0), "large": _stat(1.0, 0.5, 1.5),
                          "same": _stat(3.0, 2.0, 4.0), "noise": _stat(1.0, 0.0, 2.0)}})
    current = _run({"a": {"small": _stat(1.5, 0.5, 2.5), "large": _stat(0.0, -0.5, 0.5),
                          "same": _stat(3.0, 2.0, 4.0), "noise": _stat(1.0 + 1e-9, 0.0, 2.0)}})
    moved = compare.compare(earlier, current).moved
    assert [(c.statistic, c.difference, c.size) for c in moved] == [("large", -1.0, -2.0),
                                                                   ("small", 0.5, 0.5)]


def test_the_size_uses_the_side_of_an_asymmetric_ci_the_value_moved_to():
    earlier = _run({"a": {"up": _stat(1.0, 0.0, 1.5), "down": _stat(1.0, 0.0, 1.5)}})
    current = _run({"a": {"up": _stat(2.0, 0.0, 3.0), "down": _stat(0.0, -1.0, 1.0)}})
    sizes = {c.statistic: c.size for c in compare.compare(earlier, current).moved}
    assert sizes == {"up": 2.0, "down": -1.0}


def test_a_move_without_a_finite_earlier_ci_has_no_size_and_sorts_last():
    nan = math.nan
    earlier = _run({"a": {"no_ci": _stat(1.0, nan, nan), "sized": _stat(1.0, 0.9, 1.1),
                          "zero_width": _stat(1.0, 1.0, 1.0), "both_nan": _stat(nan, nan, nan)}})
    current = _run({"a": {"no_ci": _stat(5.0, nan, nan), "sized": _stat(1.05, 0.9, 1.2),
                          "zero_width": _stat(0.5, 0.5, 0.5), "both_nan": _stat(nan, nan, nan)}})
    moved = compare.compare(earlier, current).moved
    assert [(c.statistic, c.size) for c in moved] == [("zero_width", -math.inf), ("sized", pytest.approx(0.5)),
                                                     ("no_ci", None)]


def test_changed_verdicts_are_listed_whether_or_not_the_value_moved():
    earlier = _run({"a": {"flip": _stat(1.0, 0.1, 1.9, "supported"), "kept": _stat(1.0, 0.1, 1.9, "supported"),
                          "ctl": _stat(0.0, -1.0, 1.0, "inconclusive", "control")}})
    current = _run({"a": {"flip": _stat(0.5, -0.4, 1.4, "inconclusive"), "kept": _stat(1.2, 0.3, 2.1, "supported"),
                          "ctl": _stat(2.0, 1.0, 3.0, "supported", "control")}})
    result = compare.compare(earlier, current)
    assert [(c.statistic, c.role, c.old_verdict, c.new_verdict) for c in result.verdicts] == [
        ("flip", "decision", "supported", "inconclusive"), ("ctl", "control", "inconclusive", "supported")]
    assert {c.statistic for c in result.moved} == {"flip", "kept", "ctl"}


def test_statistics_and_claims_in_one_run_only_are_listed():
    earlier = _run({"a": {"kept": _stat(1.0, 0.0, 2.0), "gone": _stat(1.0, 0.0, 2.0)},
                    "old_claim": {}, "failed_now": {"x": _stat(1.0, 0.0, 2.0)}})
    current = _run({"a": {"kept": _stat(1.0, 0.0, 2.0), "new": _stat(1.0, 0.0, 2.0)},
                    "new_claim": {}, "failed_now": None})
    result = compare.compare(earlier, current)
    assert result.added == [("a", "new")] and result.removed == [("a", "gone")]
    assert result.claims_added == ["new_claim"] and result.claims_removed == ["old_claim", "failed_now"]
    assert result.moved == [] and result.verdicts == []


def test_environment_differences_name_each_package_and_device_but_not_the_date():
    earlier = _run({})
    current = _run({}, versions={"jax": "0.4.31", "jaxlib": "0.4.31", "numpy": "2.0.1", "flax": "0.8.5"},
                   backend="gpu", devices=["cuda:0", "cuda:1"], date="2024-08-01T10:00:00+00:00")
    assert compare.compare(earlier, current).environment == [
        ("jax", "0.4.30", "0.4.31"), ("jaxlib", "0.4.30", "0.4.31"), ("backend", "cpu", "gpu"),
        ("devices", "TFRT_CPU_0", "cuda:0, cuda:1"), ("flax", None, "0.8.5")]


def test_the_comparison_names_the_earlier_run_and_survives_json():
    earlier = _run({"a": {"s": _stat(1.0, 0.0, 2.0, "supported")}})
    current = _run({"a": {"s": _stat(-3.0, -4.0, -2.0, "contradicted")}}, run_id="20240801-090000")
    result = compare.compare(earlier, current)
    assert result.headline() == ("1 verdict changed, 1 statistic moved (largest 4 CI half-widths), "
                                 "0 environment differences")
    data = json.loads(json.dumps(result.to_json()))
    assert (data["earlier_run"], data["earlier_date"]) == ("20240701-100000", PROVENANCE["date"])
    assert data["moved"][0] | {"description": None} == data["verdicts"][0] | {"description": None}
    assert data["moved"][0]["size"] == -4.0 and data["moved"][0]["old_ci"] == [0.0, 2.0]


def test_load_takes_a_report_folder_and_names_the_run_by_it(tmp_path):
    folder = tmp_path / "20240701-100000"
    folder.mkdir()
    data = _run({"a": {}})
    del data["run_id"]
    (folder / "results.json").write_text(json.dumps(data))
    assert compare.load(folder, "quick")["run_id"] == "20240701-100000"


@pytest.mark.parametrize("content,fragment", [
    (None, "does not exist"),
    ("<html>", "is not a readable JSON file"),
    ("[1, 2]", "is JSON but not an ntkbench results.json"),
    (json.dumps({"scale": "quick", "provenance": PROVENANCE}), "it has no 'claims' entry"),
    (json.dumps(_run({}) | {"provenance": {"date": "2024-07-01", "versions": ["jax"]}}),
     "'list' object has no attribute 'items'"),
    (json.dumps(_run({"a": {"s": {"value": "x", "ci": [0, 1], "role": "measurement"}}})),
     "could not convert string to float"),
    (json.dumps(_run({}) | {"scale": "full"}), "is a run at --scale=full and this run is at --scale=quick"),
])
def test_load_rejects_what_it_cannot_compare_in_one_paragraph(tmp_path, content, fragment):
    file = tmp_path / "results.json"
    if content is not None:
        file.write_text(content)
    with pytest.raises(compare.CompareError) as err:
        compare.load(file, "quick")
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(f"--compare-to: {file} ")
