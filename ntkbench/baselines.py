"""Stored baselines: load, compare a run against them, regenerate (quick scale only).

`baselines/<scale>/<claim>.json` maps each statistic to what it must match:
  {"value": v, "tolerance": {"relative": r} | {"absolute": a}, "source": "..."}
and/or {"verdict": "supported" | "contradicted" | "inconclusive"}. The paper and full
files hold the published numbers with their source; where a preset's ranges cannot
reproduce a number (the full preset's cut ranges), the entry carries "reference": the
reason, and the report shows the number beside ours without a pass or fail. Quick-scale
files hold our own measurements with provenance, written only by `--regen-baselines`, with
each statistic's CI and role, and the claim's data-dependent choices ("choices": name ->
{"value": the sizes chosen, "margin": its distance from a knife edge, `scaling.kept`}).

Between machines. float32 training is chaotic and XLA compiles other instructions for
other CPUs, so a statistic moves between machines. `python -m ntkbench.baselines RUN ...`
measures how far, from runs of one commit under other code generation (e.g.
`XLA_FLAGS=--xla_cpu_max_isa=AVX`), and writes each entry's "spread" (the range of its
value and CI ends over the runs and the baseline) and its tolerance by the rule
`machine_tolerance`. A verdict whose CI end lies within `SPREAD_MULTIPLE` spreads of 0 is
`fragile`: another machine may decide it otherwise, so it is reported, not compared.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import NamedTuple

from ntkbench.results import ClaimResult, Statistic
from ntkbench.scaling import KNIFE_EDGE
from ntkbench.stats import SUPPORTED, VERDICTS

ROOT = Path(__file__).resolve().parent.parent / "baselines"
SPREAD_MULTIPLE = 3
"""Pre-registered (issue 26, before the runs that measured the spreads): a tolerance is this
many times the larger of a statistic's spread between machines and its standard error, and
a verdict is fragile while a CI end lies within this many spreads of that end from 0."""
EXACT = 1e-9
"""A statistic whose value moved by at most this fraction of its magnitude between machines
is machine-exact (float64 closed forms and solves): it keeps its claim's declared tolerance."""


class BaselineError(Exception):
    """A baseline file is missing or malformed."""


class Check(NamedTuple):
    """One baseline entry against the run; `ok` is None where it is not a target: a
    reference, or a statistic whose choice (`results.Choice`) changed, said in `note`."""

    statistic: str
    measured: str
    expected: str
    ok: bool | None
    note: str = ""


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
        for name, choice in data.get("choices", {}).items():
            if not isinstance(choice["value"], list):
                raise ValueError(f"choice '{name}' has a 'value' that is not a list of sizes")
            float(choice["margin"])
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
    if "ci" in entry and len(entry["ci"]) != 2:
        raise ValueError(f"statistic '{name}' has a 'ci' that is not [low, high]")
    if "spread" in entry and set(entry["spread"]) != {"value", "low", "high"}:
        raise ValueError(f"statistic '{name}' has a 'spread' without 'value', 'low' and 'high'")


def not_as_claimed(baseline: dict) -> dict[str, str]:
    """The decisions whose stored verdict is not `supported` and the controls whose stored
    verdict is (they failed), each with its stored numbers: the tests a run of the same
    preset expects to fail (strict xfails). An entry stored before baselines recorded roles
    expects nothing (regenerate it)."""
    out = {}
    for name, entry in baseline["statistics"].items():
        verdict, role = entry.get("verdict"), entry.get("role")
        if verdict is None or role is None or (verdict == SUPPORTED) == (role != "control"):
            continue
        ci = entry.get("ci")
        out[name] = f"{verdict}, {entry['value']:.4g}" + (f", CI [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else "")
    return out


def fragile(stat: Statistic, entry: dict) -> str | None:
    """Why the verdict of `stat` could be another on another machine (None: it could not):
    an end of its CI lies within `SPREAD_MULTIPLE` times that end's measured spread between
    machines of 0, so which side of 0 it falls on is numeric noise. Needs the entry's
    "spread" (`python -m ntkbench.baselines`)."""
    spread = entry.get("spread")
    if spread is None or stat.verdict is None:
        return None
    for side, end in (("low", stat.estimate.low), ("high", stat.estimate.high)):
        if math.isfinite(end) and abs(end) <= SPREAD_MULTIPLE * spread[side]:
            return (f"fragile: the CI's {side} end {end:.4g} lies within {SPREAD_MULTIPLE} x its measured spread "
                    f"between machines ({spread[side]:.3g}) of 0, so another machine may give another verdict "
                    f"({stat.verdict} here, {entry.get('verdict', 'none')} in the baseline)")
    return None


def compare(result: ClaimResult, baseline: dict) -> list[Check]:
    """One check per baseline choice, then one per baseline statistic; a statistic the run
    lacks fails its check. A statistic governed by a choice that changed is not compared:
    the choice's check fails instead, unless the choice sits on a knife edge here or in the
    baseline (margin below `scaling.KNIFE_EDGE`), where it is fragile. A fragile verdict
    (`fragile`) is shown, not compared."""
    checks, moved = [], {}
    choices = getattr(result.statistics, "choices", {})
    for name, stored in baseline.get("choices", {}).items():
        choice = choices.get(name)
        measured = "missing from this run" if choice is None else _sizes(choice.value)
        ok = choice is not None and list(choice.value) == stored["value"]
        edge = choice is not None and min(choice.margin, stored["margin"]) < KNIFE_EDGE
        change = f"{name} changed from {_sizes(stored['value'])} to {measured}"
        note = "" if ok else (f"fragile: {change} on a knife edge (margin {choice.margin:.2g} standard errors "
                              f"here, {stored['margin']:.2g} in the baseline; below {KNIFE_EDGE:g} another "
                              "machine may choose otherwise)" if edge else change)
        checks.append(Check(f"choice: {name}", measured, _sizes(stored["value"]), ok or edge, note))
        if choice is not None and not ok:
            moved |= dict.fromkeys(choice.governs, f"not compared: {name} changed" + (" on a knife edge" if edge
                                                                                     else ""))
    for name, entry in baseline["statistics"].items():
        stat = result.statistics.get(name)
        if stat is None:
            checks.append(Check(name, "missing from this run", _expected(entry), False))
            continue
        if name in moved:
            checks.append(Check(name, f"{stat.estimate.value:.6g}, {stat.verdict}", _expected(entry), None,
                                moved[name]))
            continue
        ok = True
        measured = []
        if "value" in entry:
            value = stat.estimate.value
            tol = entry["tolerance"]
            bound = tol.get("absolute", tol.get("relative", 0) * abs(entry["value"]))
            ok &= math.isfinite(value) and abs(value - entry["value"]) <= bound
            measured.append(f"{value:.6g}")
        note = fragile(stat, entry) or ""
        if "verdict" in entry:
            ok &= stat.verdict == entry["verdict"] or bool(note)
            measured.append(str(stat.verdict))
        checks.append(Check(name, ", ".join(measured), _expected(entry), None if "reference" in entry else ok,
                            "reference" if "reference" in entry else note))
    return checks


def _sizes(value) -> str:
    return "[" + ", ".join(f"{v:g}" for v in value) + "]"


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
    """Writes the run's statistics and choices as the quick-scale baseline; `tolerances[name]`
    per statistic (the claim's declared ones, until `python -m ntkbench.baselines` replaces
    them with measured spreads)."""
    entries = {}
    for name, stat in result.statistics.items():
        entry = {"value": stat.estimate.value, "ci": [stat.estimate.low, stat.estimate.high],
                 "role": stat.role, "tolerance": tolerances[name]}
        if stat.verdict is not None:
            entry["verdict"] = stat.verdict
        entries[name] = entry
    file = path(result.scale, result.claim, root)
    file.parent.mkdir(parents=True, exist_ok=True)
    choices = {name: {"value": list(c.value), "margin": c.margin}
               for name, c in getattr(result.statistics, "choices", {}).items()}
    file.write_text(json.dumps({"claim": result.claim, "scale": result.scale, "provenance": provenance,
                                "statistics": entries} | ({"choices": choices} if choices else {}),
                               indent=2, default=float) + "\n")
    return file


def machine_tolerance(entry: dict, spread: dict) -> dict:
    """The tolerance of a baseline `entry` from its measured `spread` between machines:
    `SPREAD_MULTIPLE` times the larger of the spread of its value and its standard error
    (a quarter of its 95% CI's width: about 1.2 standard errors at 8 trials); an entry whose
    value is machine-exact (`EXACT`) keeps its declared tolerance."""
    value = entry["value"]
    if spread["value"] <= EXACT * max(abs(value), 1.0):
        return entry["tolerance"]
    low, high = entry.get("ci", (value, value))
    se = (high - low) / 4 if math.isfinite(high - low) else 0.0
    return {"absolute": SPREAD_MULTIPLE * max(spread["value"], se)}


def measure_spread(baseline: dict, runs: list[dict]) -> dict:
    """`baseline` with each statistic's "spread" (the range of its value and CI ends over
    `runs`, each a claim's `ClaimResult.to_json()`, and the baseline itself) and its tolerance
    by `machine_tolerance`. A statistic missing from a run, or non-finite in one, keeps its
    entry as it was."""
    out = json.loads(json.dumps(baseline))
    for name, entry in out["statistics"].items():
        if "value" not in entry or "ci" not in entry:
            continue
        stats = [run["statistics"].get(name) for run in runs]
        if any(s is None for s in stats):
            continue
        points = [(entry["value"], *entry["ci"])] + [(s["value"], *s["ci"]) for s in stats]
        if not all(math.isfinite(x) for p in points for x in p):
            continue
        spread = {key: max(p[i] for p in points) - min(p[i] for p in points)
                  for i, key in enumerate(("value", "low", "high"))}
        entry["tolerance"] = machine_tolerance(entry, spread)
        entry["spread"] = spread
    out["spread_runs"] = [run.get("provenance", {}) for run in runs]
    return out


def main(argv=None) -> None:
    """`python -m ntkbench.baselines RESULTS ...`: measures the quick baselines' spreads
    between machines from the runs' results.json (or their report folders) and writes each
    statistic's spread and tolerance into baselines/quick (`measure_spread`)."""
    parser = argparse.ArgumentParser(prog="python -m ntkbench.baselines", description=main.__doc__)
    parser.add_argument("runs", nargs="+", help="results.json files, or report folders holding one")
    parser.add_argument("--baselines-dir", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    runs = []
    for run in args.runs:
        file = Path(run) / "results.json" if Path(run).is_dir() else Path(run)
        runs.append(json.loads(file.read_text()))
    if any(run["scale"] != "quick" for run in runs):
        parser.error("spreads are measured for the quick baselines: pass runs made at --scale=quick")
    for claim in sorted({c["name"] for run in runs for c in run["claims"] if c["result"]}):
        results = [c["result"] | {"provenance": run["provenance"]} for run in runs for c in run["claims"]
                   if c["name"] == claim and c["result"]]
        if len(results) < len(runs):
            continue
        file = path("quick", claim, args.baselines_dir)
        measured = measure_spread(load("quick", claim, args.baselines_dir), results)
        file.write_text(json.dumps(measured, indent=2) + "\n")
        print(f"wrote the spreads of {len(results)} runs into {file}")


if __name__ == "__main__":
    main()
