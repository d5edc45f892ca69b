"""Writes reports/<run-id>/index.html (jinja2, figures inline) and results.json."""

from __future__ import annotations

import collections
import datetime
import json
from pathlib import Path

import jinja2

from ntkbench import compare
from ntkbench.baselines import Check
from ntkbench.report.figures import to_data_uri
from ntkbench.results import CONTROL, DECISION, MEASUREMENT, ClaimResult, of_role
from ntkbench.scaling import KNIFE_EDGE

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("ntkbench.report", "."),
                          autoescape=jinja2.select_autoescape(["html", "j2"]),
                          undefined=jinja2.StrictUndefined)


def _word(outcome: str) -> str:
    """The CSS class of a claim's outcome line."""
    return {"reproduced": "reproduced", "partly reproduced": "partly"}.get(outcome.split(":")[0], "not-reproduced")


def run_id() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def write_plan(directory: Path, *, scale: str, provenance: dict, device: str, header, rows) -> Path:
    """Writes the report of a --plan run: the cost table (`cost.table`) and plan.json."""
    directory.mkdir(parents=True, exist_ok=True)
    html = _ENV.get_template("plan.html.j2").render(scale=scale, provenance=provenance, device=device,
                                                    header=header, rows=rows)
    (directory / "index.html").write_text(html)
    (directory / "plan.json").write_text(json.dumps({"scale": scale, "device": device, "provenance": provenance,
                                                     "rows": [dict(zip(header, r)) for r in rows]}, indent=1))
    return directory / "index.html"


def write(directory: Path, *, scale: str, provenance: dict, claims: list[dict],
          cell_seconds: list[tuple[str, float]] = (), earlier: dict | None = None) -> Path:
    """Writes the report of `claims`, each a dict with keys:

    result (ClaimResult), checks (list[baselines.Check]), tests (list of (nodeid, outcome)),
    error (str or None: why the claim could not be run). `cell_seconds` (cell, seconds) of
    the cells computed in this run go to results.json. `earlier` (compare.load) is a run to
    compare this one with, in both the report and results.json.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rendered = []
    for c in claims:
        result: ClaimResult | None = c["result"]
        checks: dict[str, Check] = {ch.statistic: ch for ch in c["checks"]}
        statistics = result.statistics if result else {}
        rendered.append({
            "name": c["name"], "result": result, "error": c["error"], "tests": c["tests"],
            "no_baseline": c.get("no_baseline"),
            "outcomes": collections.Counter(o for _, o in c["tests"]),
            "word": _word(result.outcome) if result else "error",
            "decisions": of_role(statistics, DECISION),
            "controls": of_role(statistics, CONTROL),
            "measured": of_role(statistics, MEASUREMENT),
            "checks": [ch for ch in c["checks"] if ch.ok is not None and not ch.note.startswith("fragile")],
            "checks_by_name": checks,
            "drifted": sum(ch.ok is False for ch in c["checks"]),
            "references": sum(ch.note == "reference" for ch in c["checks"]),
            "fragile": [ch for ch in c["checks"] if ch.note.startswith("fragile")],
            "unmatched": [ch for ch in c["checks"] if ch.measured == "missing from this run"],
            "choices": getattr(statistics, "choices", {}),
            "figures": [(f, to_data_uri(f)) for f in result.figures] if result else [],
            "config": json.dumps(result.config, indent=2) if result else "",
        })
    outcomes = collections.Counter({"passed": 0, "failed": 0})
    outcomes.update(o for c in claims for _, o in c["tests"])
    # Plain JSON types, so that the comparison reads this run exactly as results.json records it.
    results = json.loads(json.dumps({
        "run_id": directory.name, "scale": scale, "provenance": provenance,
        "claims": [{"name": c["name"], "error": c["error"], "tests": c["tests"],
                    "checks": [ch._asdict() for ch in c["checks"]],
                    "result": c["result"].to_json() if c["result"] else None} for c in claims],
        "cell_seconds": [list(c) for c in cell_seconds],
    }, default=float))
    comparison = compare.compare(earlier, results) if earlier else None
    if comparison:
        results["comparison"] = comparison.to_json()
    html = _ENV.get_template("template.html.j2").render(
        scale=scale, provenance=provenance, claims=rendered, outcomes=outcomes, comparison=comparison,
        computed_cells=len(cell_seconds), knife_edge=KNIFE_EDGE)
    (directory / "index.html").write_text(html)
    (directory / "results.json").write_text(json.dumps(results, indent=1))
    return directory / "index.html"
