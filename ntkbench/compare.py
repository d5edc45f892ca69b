"""Two runs compared: what moved, by how much against its CI, and which verdicts changed.

Both runs are results.json contents (report/html.py writes them). A statistic present in
both runs has *moved* when its value differs beyond float noise (`NOISE`, a few float32
ulps); the size of a move is the difference in units of the earlier CI's half-width on the
side of the move, so a size beyond +-1 puts the new value outside the earlier CI. Moves are
sorted by that size, largest first. This is what a lab reads after upgrading JAX or a GPU
driver: a verdict that changed, or a move of several half-widths, is not noise.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import NamedTuple

NOISE = 1e-6
"""Relative difference below which two values are the same number computed twice."""


class CompareError(Exception):
    """The earlier run cannot be read or is not comparable with this one."""


@dataclasses.dataclass(frozen=True)
class Change:
    """One statistic of one claim in both runs."""

    claim: str
    statistic: str
    role: str
    old: float
    new: float
    old_ci: tuple[float, float]
    new_ci: tuple[float, float]
    old_verdict: str | None
    new_verdict: str | None

    @property
    def difference(self) -> float:
        return self.new - self.old

    @property
    def size(self) -> float | None:
        """The difference in half-widths of the earlier CI on the side of the move (infinite
        for a zero-width side); None where that CI or either value is not finite."""
        low, high = self.old_ci
        half = high - self.old if self.difference >= 0 else self.old - low
        if not all(map(math.isfinite, (self.old, self.new, half))):
            return None
        if half == 0:
            return math.copysign(math.inf, self.difference) if self.difference else 0.0
        return self.difference / half

    @property
    def moved(self) -> bool:
        """Whether the value differs beyond float noise (NaN equals NaN here)."""
        if math.isnan(self.old) or math.isnan(self.new):
            return math.isnan(self.old) != math.isnan(self.new)
        return not math.isclose(self.old, self.new, rel_tol=NOISE, abs_tol=1e-12)

    @property
    def verdict_changed(self) -> bool:
        return self.old_verdict != self.new_verdict

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"difference": self.difference, "size": self.size}


@dataclasses.dataclass(frozen=True)
class Comparison:
    """This run against an earlier one (`earlier_run`, dated `earlier_date`).

    `verdicts` holds the statistics whose verdict changed, `moved` those whose value moved
    (largest size first; a statistic can be in both); `added` and `removed` are
    (claim, statistic) pairs in this run only and in the earlier run only; `claims_added`
    and `claims_removed` the claims with a result in one run only; `environment` the
    provenance entries that differ, as (entry, earlier, this run).
    """

    earlier_run: str
    earlier_date: str
    verdicts: list[Change]
    moved: list[Change]
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    claims_added: list[str]
    claims_removed: list[str]
    environment: list[tuple[str, str | None, str | None]]

    def headline(self) -> str:
        """One line: how many verdicts changed, statistics moved, environment entries differ."""
        largest = max((abs(c.size) for c in self.moved if c.size is not None), default=None)
        tail = f" (largest {largest:.3g} CI half-widths)" if largest is not None else ""
        return (f"{_count(self.verdicts, 'verdict', 'verdicts')} changed, "
                f"{_count(self.moved, 'statistic', 'statistics')} moved{tail}, "
                f"{_count(self.environment, 'environment difference', 'environment differences')}")

    def to_json(self) -> dict:
        return {"earlier_run": self.earlier_run, "earlier_date": self.earlier_date,
                "verdicts": [c.to_json() for c in self.verdicts],
                "moved": [c.to_json() for c in self.moved],
                "added": self.added, "removed": self.removed,
                "claims_added": self.claims_added, "claims_removed": self.claims_removed,
                "environment": self.environment}


def _count(items: list, one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


def load(path: str | Path, scale: str) -> dict:
    """The results.json at `path` (or in the report folder `path`), checked to be a run at
    `scale` by comparing it with itself (which reads all that a comparison reads); its
    "run_id" is the report folder's name where the file predates that key.

    Raises:
        CompareError: the file is missing, not JSON, not an ntkbench results.json, or a run
            at another scale.
    """
    file = Path(path)
    if file.is_dir():
        file = file / "results.json"
    advice = ("Pass --compare-to the results.json of an earlier run, or the report folder "
              "holding it (reports/<run-id>/); nothing has been computed yet.")
    if not file.is_file():
        raise CompareError(f"--compare-to: {file} does not exist. {advice}")
    try:
        data = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CompareError(f"--compare-to: {file} is not a readable JSON file ({err}). {advice}") from None
    try:
        data.setdefault("run_id", file.parent.name)
        earlier_scale = data["scale"]
        compare(data, data)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        why = f"it has no {err} entry" if isinstance(err, KeyError) else err
        raise CompareError(f"--compare-to: {file} is JSON but not an ntkbench results.json ({why}). "
                           f"{advice}") from None
    if earlier_scale != scale:
        raise CompareError(
            f"--compare-to: {file} is a run at --scale={earlier_scale} and this run is at "
            f"--scale={scale}; statistics of different scales are not comparable. Compare with an "
            f"earlier run at --scale={scale}, or run this one with --scale={earlier_scale}; "
            "nothing has been computed yet.")
    return data


class Entry(NamedTuple):
    """A statistic as results.json records it."""

    role: str
    value: float
    low: float
    high: float
    verdict: str | None


def claim_statistics(results: dict) -> dict[str, dict[str, Entry]]:
    """claim -> statistic name -> its entry, for the claims with a result.

    Raises:
        KeyError, TypeError, ValueError: `results` is not a results.json.
    """
    return {c["name"]: {name: Entry(s["role"], float(s["value"]), *map(float, s["ci"]), s.get("verdict"))
                        for name, s in c["result"]["statistics"].items()}
            for c in results["claims"] if c["result"] is not None}


def compare(earlier: dict, current: dict) -> Comparison:
    """`current` against `earlier`, both results.json contents (`earlier` with its "run_id")."""
    old, new = claim_statistics(earlier), claim_statistics(current)
    changes, added, removed = [], [], []
    for claim in [c for c in new if c in old]:
        added += [(claim, s) for s in new[claim] if s not in old[claim]]
        removed += [(claim, s) for s in old[claim] if s not in new[claim]]
        changes += [_change(claim, name, old[claim][name], s)
                    for name, s in new[claim].items() if name in old[claim]]
    moved = sorted((c for c in changes if c.moved),
                   key=lambda c: (c.size is None, -abs(c.size or 0)))
    return Comparison(
        earlier_run=earlier["run_id"], earlier_date=earlier["provenance"]["date"],
        verdicts=[c for c in changes if c.verdict_changed], moved=moved,
        added=added, removed=removed,
        claims_added=[c for c in new if c not in old], claims_removed=[c for c in old if c not in new],
        environment=environment_differences(earlier["provenance"], current["provenance"]))


def _change(claim: str, name: str, old: Entry, new: Entry) -> Change:
    return Change(claim, name, new.role, old.value, new.value, (old.low, old.high),
                  (new.low, new.high), old.verdict, new.verdict)


def environment_differences(earlier: dict, current: dict) -> list[tuple[str, str | None, str | None]]:
    """(entry, earlier, current) for each provenance entry that differs, the run's date aside;
    package versions are entries of their own, an absent entry is None."""
    old, new = _flat(earlier), _flat(current)
    return [(k, old.get(k), new.get(k)) for k in dict.fromkeys([*old, *new])
            if old.get(k) != new.get(k)]


def _flat(provenance: dict) -> dict[str, str]:
    flat = {}
    for key, value in provenance.items():
        if key == "versions":
            flat |= {package: str(version) for package, version in value.items()}
        elif key != "date" and value is not None:
            flat[key] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return flat
