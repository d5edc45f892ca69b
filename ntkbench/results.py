"""What a claim's run produces: statistics with CIs, verdicts, measurements, figures."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ntkbench.stats import Estimate, verdict


@dataclasses.dataclass
class Statistic:
    """A measured quantity with its CI; `verdict` is set where the quantity decides a claim."""

    name: str
    estimate: Estimate
    description: str = ""
    verdict: str | None = None

    def to_json(self) -> dict:
        out = {"value": self.estimate.value, "ci": [self.estimate.low, self.estimate.high],
               "description": self.description}
        if self.verdict is not None:
            out["verdict"] = self.verdict
        return out


class Statistics(dict):
    """A claim's statistics by name."""

    def add(self, name: str, estimate: Estimate, description: str, direction: int | None = +1) -> None:
        """Records a statistic; with a `direction` (+1 or -1) it decides the claim
        `direction * quantity > 0` and gets a verdict, with None it is only measured."""
        self[name] = Statistic(name, estimate, description,
                               None if direction is None else verdict(estimate, direction))


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

    def to_json(self) -> dict:
        return {
            "claim": self.claim, "title": self.title, "source": self.source, "scale": self.scale,
            "statistics": {k: s.to_json() for k, s in self.statistics.items()},
            "measurements": self.measurements, "config": self.config,
            "protocol": self.protocol, "seconds": self.seconds, "notes": self.notes,
        }
