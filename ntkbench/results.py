"""What a claim's run produces: statistics with CIs, verdicts, measurements, figures."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import numpy as np

from ntkbench.stats import SUPPORTED, Estimate, verdict

DECISION, CONTROL, MEASUREMENT = "decision", "control", "measurement"


@dataclasses.dataclass
class Statistic:
    """A measured quantity with its CI and its role.

    A `decision` is a pre-registered test of the claim `direction * quantity > 0`: the claim
    holds where its verdict is `supported`. A `control` is a negative control stated the same
    way, which must NOT come out `supported` (it `held` otherwise). A `measurement` has no
    verdict; the baselines check its value.
    """

    name: str
    estimate: Estimate
    description: str
    role: str = MEASUREMENT
    direction: int | None = None
    verdict: str | None = None

    @property
    def held(self) -> bool | None:
        """For a control: whether it held (did not come out `supported`)."""
        return self.verdict != SUPPORTED if self.role == CONTROL else None

    def to_json(self) -> dict:
        out = {"value": self.estimate.value, "ci": [self.estimate.low, self.estimate.high],
               "description": self.description, "role": self.role}
        if self.verdict is not None:
            out |= {"direction": self.direction, "verdict": self.verdict}
        return out


class Choice(NamedTuple):
    """A data-dependent choice of what a claim compares (the widths kept, the points of a fit
    range), made by a rule written down with the claim: `value` the sizes chosen, `margin`
    how far the closest candidate's deciding trial mean lies from the rule's threshold, in
    standard errors (`scaling.kept`; below `scaling.KNIFE_EDGE` the choice is on a knife
    edge), `governs` the statistics computed on it. The baseline test checks a choice as one
    item, so that a size that moved in or out is reported as that and not as the statistics
    it moved."""

    value: tuple
    description: str
    margin: float
    governs: tuple[str, ...]

    def to_json(self) -> dict:
        return {"value": list(self.value), "description": self.description, "margin": self.margin,
                "governs": list(self.governs)}


class Statistics(dict):
    """A claim's statistics by name, each recorded by one of `decide`, `control`, `measure`.

    `decide` and `control` take the claimed direction and the share of diverged runs among
    the models compared (stats.verdict); neither has a default, so that no statistic becomes
    a decision, or escapes the divergence rule, by a left-out argument. `unmet` names a
    premise of the comparison that the runs did not meet (it makes the verdict inconclusive).
    `omit` records a statistic the claim cannot compute on this run, with the reason (its
    test is skipped with it); `choose` a data-dependent choice of what the others compare.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.omitted: dict[str, str] = dict(getattr(args[0], "omitted", {})) if args else {}
        self.choices: dict[str, Choice] = dict(getattr(args[0], "choices", {})) if args else {}

    def decide(self, name: str, estimate: Estimate, description: str, *, direction: int,
               diverged: float, unmet: str | None = None) -> None:
        self._judged(Statistic(name, estimate, description, DECISION, direction), diverged, unmet)

    def control(self, name: str, estimate: Estimate, description: str, *, direction: int,
                diverged: float, unmet: str | None = None) -> None:
        self._judged(Statistic(name, estimate, description, CONTROL, direction), diverged, unmet)

    def _judged(self, statistic: Statistic, diverged: float, unmet: str | None) -> None:
        statistic.verdict = verdict(statistic.estimate, statistic.direction, diverged=diverged, unmet=unmet)
        if unmet:
            statistic.description += f" (inconclusive: {unmet})"
        self._add(statistic)

    def measure(self, name: str, estimate: Estimate, description: str) -> None:
        self._add(Statistic(name, estimate, description))

    def omit(self, name: str, reason: str) -> None:
        self.omitted[name] = reason

    def choose(self, name: str, value, description: str, *, margin: float, governs) -> None:
        if name in self.choices:
            raise ValueError(f"choice {name!r} recorded twice")
        self.choices[name] = Choice(tuple(int(v) if isinstance(v, (int, np.integer)) else float(v) for v in value),
                                    description, float(margin), tuple(governs))

    def _add(self, statistic: Statistic) -> None:
        if statistic.name in self:
            raise ValueError(f"statistic {statistic.name!r} recorded twice")
        self[statistic.name] = statistic

    def __ior__(self, other: "Statistics") -> "Statistics":
        for statistic in other.values():
            self._add(statistic)
        self.omitted |= getattr(other, "omitted", {})
        for name, choice in getattr(other, "choices", {}).items():
            self.choose(name, choice.value, choice.description, margin=choice.margin, governs=choice.governs)
        return self

    def __or__(self, other: "Statistics") -> "Statistics":
        merged = Statistics(self)
        merged |= other
        return merged



def of_role(statistics: dict[str, Statistic], role: str) -> list[Statistic]:
    """The statistics of one role (DECISION, CONTROL or MEASUREMENT), in recorded order."""
    return [s for s in statistics.values() if s.role == role]


def outcome(statistics: dict[str, Statistic]) -> str:
    """One line for a claim from its pre-registered decisions and controls."""
    decisions, controls = of_role(statistics, DECISION), of_role(statistics, CONTROL)
    held = sum(s.held for s in controls)
    supported = sum(s.verdict == SUPPORTED for s in decisions)
    if supported == len(decisions) and held == len(controls):
        word = "reproduced"
    elif supported == 0:
        word = "not reproduced at this scale"
    else:
        word = "partly reproduced"
    return (f"{word}: {supported} of {len(decisions)} decisions supported, "
            f"{held} of {len(controls)} negative controls held")


@dataclasses.dataclass
class Figure:
    """A figure the report draws: `draw(ax)` on a matplotlib Axes."""

    title: str
    draw: Callable[[Any], None]
    caption: str = ""


@dataclasses.dataclass
class ClaimResult:
    claim: str
    title: str
    source: str
    scale: str
    statistics: dict[str, Statistic]
    measurements: dict[str, Any]
    config: dict[str, Any]
    protocol: list[str]
    figures: list[Figure] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def outcome(self) -> str:
        return outcome(self.statistics)

    def to_json(self) -> dict:
        return {
            "claim": self.claim, "title": self.title, "source": self.source, "scale": self.scale,
            "outcome": self.outcome,
            "statistics": {k: s.to_json() for k, s in self.statistics.items()},
            "omitted": getattr(self.statistics, "omitted", {}),
            "choices": {k: c.to_json() for k, c in getattr(self.statistics, "choices", {}).items()},
            "measurements": self.measurements, "config": self.config,
            "protocol": self.protocol, "seconds": self.seconds, "notes": self.notes,
        }
