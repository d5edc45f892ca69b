"""Stored baselines: load, compare a run against them, regenerate (quick scale only).

`baselines/<scale>/<claim>.json` maps each statistic to what it must match:
  {"value": v, "tolerance": {"relative": r} | {"absolute": a}, "source": "..."}
and/or {"verdict": "supported" | "contradicted" | "inconclusive"}. The paper and full
files hold the published numbers with their source; where a preset's ranges cannot
reproduce a number (the full preset's cut ranges), the entry carries "reference": the
reason, and the report shows the number beside ours without a pass or fail. Quick-scale
files hold our own measurements with provenance, written only by `--regen-baselines`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

from ntkbench.results import ClaimResult
from ntkbench.stats import VERDICTS

ROOT = Path(__file__).resolve().parent.parent / "baselines"


class BaselineError(Exception):
    """A baseline file is missing or malformed."""


class Check(NamedTuple):
    """One baseline entry against the run; `ok` is None for a reference (not a target)."""

    statistic: str
    measured: str
    expected: str
    ok: bool | None


def path(scale: str, claim: str, root: Path) -> Path:
    return root / scale / f"{claim}.json"


def load(scale: str, claim: str, root: Path = ROOT) -> dict:
    """The baseline of `claim` at `scale` from the folder `root`, validated."""
    file = path(scale, claim, root)
    regen = ("regenerate it with `pytest suites/ --regen-baselines` (quick scale) after checking "
             "the run, or restore it with `git checkout -- " + str(file) + "`")
    if not file.exists():
        raise BaselineError(f"The baseline file {file} for claim '{claim}' at scale '{scale}' "
                            f"does not exist, so the run cannot be compared with it; {regen}.")
    try:
        data = json.loads(file.read_text())
        entries = data["statistics"]
        for name, entry in entries.items():
            _validate(name, entry)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise BaselineError(f"The baseline file {file} for claim '{claim}' is malformed ({err}). "
                            f"Each statistic needs a numeric 'value' with a 'tolerance' "
                            f"({{'relative': r}} or {{'absolute': a}}) and/or a 'verdict' "
                            f"(one of {', '.join(VERDICTS)}); {regen}.") from None
    return data


def published(claim: str, root: Path = ROOT) -> dict[str, float]:
    """The papers' published numbers for `claim` by statistic name (baselines/paper), for
    figures and tables that show them beside ours; {} where the paper publishes none."""
    file = path("paper", claim, root)
    if not file.exists():
        return {}
    return {name: entry["value"] for name, entry in load("paper", claim, root)["statistics"].items()
            if "value" in entry}


def _validate(name: str, entry: dict) -> None:
    if "value" not in entry and "verdict" not in entry:
        raise ValueError(f"statistic '{name}' has neither 'value' nor 'verdict'")
    if "value" in entry:
        float(entry["value"])
        tol = entry["tolerance"]
        if set(tol) not in ({"relative"}, {"absolute"}) or float(next(iter(tol.values()))) < 0:
            raise ValueError(f"statistic '{name}' has a bad tolerance {tol!r}")
    if "verdict" in entry and entry["verdict"] not in VERDICTS:
        raise ValueError(f"statistic '{name}' has an unknown verdict {entry['verdict']!r}")
    if not isinstance(entry.get("reference", ""), str) or entry.get("reference") == "":
        raise ValueError(f"statistic '{name}' has a 'reference' that is not a reason (a non-empty string)")


def compare(result: ClaimResult, baseline: dict) -> list[Check]:
    """One check per baseline entry; a statistic the run lacks fails its check."""
    checks = []
    for name, entry in baseline["statistics"].items():
        stat = result.statistics.get(name)
        if stat is None:
            checks.append(Check(name, "missing from this run", _expected(entry), False))
            continue
        ok = True
        measured = []
        if "value" in entry:
            value = stat.estimate.value
            tol = entry["tolerance"]
            bound = tol.get("absolute", tol.get("relative", 0) * abs(entry["value"]))
            ok &= math.isfinite(value) and abs(value - entry["value"]) <= bound
            measured.append(f"{value:.6g}")
        if "verdict" in entry:
            ok &= stat.verdict == entry["verdict"]
            measured.append(str(stat.verdict))
        checks.append(Check(name, ", ".join(measured), _expected(entry), None if "reference" in entry else ok))
    return checks


def _expected(entry: dict) -> str:
    parts = []
    if "value" in entry:
        tol = entry["tolerance"]
        parts.append(f"{entry['value']:.4g} ± " + (f"{100 * tol['relative']:.2g}%" if "relative" in tol
                                                    else f"{tol['absolute']:.3g}"))
    if "verdict" in entry:
        parts.append(entry["verdict"])
    if "reference" in entry:
        return f"{entry['value']:.4g} (reference only: {entry['reference']})"
    return ", ".join(parts)


def regenerate(result: ClaimResult, tolerances: dict[str, dict], provenance: dict,
               root: Path) -> Path:
    """Writes the run's statistics as the quick-scale baseline; `tolerances[name]` per statistic."""
    entries = {}
    for name, stat in result.statistics.items():
        entry = {"value": stat.estimate.value, "tolerance": tolerances[name]}
        if stat.verdict is not None:
            entry["verdict"] = stat.verdict
        entries[name] = entry
    file = path(result.scale, result.claim, root)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps({"claim": result.claim, "scale": result.scale,
                                "provenance": provenance, "statistics": entries}, indent=2) + "\n")
    return file
