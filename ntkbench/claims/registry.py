"""What a claim is, and which claims a session knows.

A claim is a module that ends with `DEFINITION = Claim(...)`: its name (the baseline files'
and the `claim(name)` marker's), its title and source for the report, and four functions:

  config(scale) -> cfg            the experiment at a preset (quick, full or paper): any
                                  value `run` reads (ntkbench's claims: frozen dataclasses)
  run(cfg, runner, data_dir=None) -> ClaimResult
                                  the experiment, its sweeps through `runner.map` (cached
                                  cell by cell), its statistics recorded as decisions,
                                  controls and measurements (`results.Statistics`)
  quick_tolerance(statistic) -> {"relative": r} | {"absolute": a}
                                  how far a quick-scale rerun may drift from the baseline
  shrink(cfg) -> cfg              (optional) the full-scale config with every size cut to
                                  seconds, names kept (tests/test_full_scale_paths.py)
  with_experiment(cfg, experiment) -> cfg
                                  (optional) the config with a researcher's architecture
                                  and data (`ntkbench.experiment`); claims without it do
                                  not run under --experiment
  stages(cfg) -> [cost.Stage]     (optional) what `run` computes, stage by stage, in the
                                  order it maps them, each cell's units of work
                                  (`ntkbench.cost`): what --plan prices without computing

and one value:

  position                        (optional) its place in the report among ntkbench's own
                                  claims (lower first; unset: after them, by name)

`load` finds ntkbench's own claims (every module of this package that defines one), then
those of installed packages (entry points of the group `ntkbench.claims`, each naming a
module), then those of the modules a session names (`--claims-module`). A suite file marks
its tests `claim(name)` and reads the result through the `bench` fixture; its baselines are
`baselines/<scale>/<name>.json`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import math
import pkgutil
from typing import Any, Callable, Sequence

import ntkbench.claims as package
from ntkbench.results import ClaimResult

ENTRY_POINTS = "ntkbench.claims"


class RegistryError(Exception):
    """A claims module cannot be imported, defines no claim, or reuses a claim's name."""


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim's registry entry (see the module docstring for each function's contract)."""

    name: str
    title: str
    source: str
    config: Callable[[str], Any]
    run: Callable[..., ClaimResult]
    quick_tolerance: Callable[[str], dict]
    shrink: Callable[[Any], Any] | None = None
    with_experiment: Callable[[Any, Any], Any] | None = None
    stages: Callable[[Any], list] | None = None
    position: float = math.inf


def load(modules: Sequence[str] = ()) -> dict[str, Claim]:
    """The claims by name: ntkbench's own in report order, then those of installed packages'
    entry points, then those of `modules` (importable module names, each defining
    `DEFINITION`)."""
    own = [(info.name, claim) for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
           if isinstance(claim := getattr(importlib.import_module(info.name), "DEFINITION", None), Claim)]
    own.sort(key=lambda found: (found[1].position, found[1].name))
    others = [e.value for e in importlib.metadata.entry_points(group=ENTRY_POINTS)] + list(modules)
    claims: dict[str, Claim] = {}
    for name, claim in own + [(m, _definition(m)) for m in others]:
        if claim.name in claims:
            raise RegistryError(f"The claims module {name} defines the claim {claim.name!r}, a name "
                                "another claim already has; give the Claim in its DEFINITION another name.")
        claims[claim.name] = claim
    return claims


def _definition(module_name: str) -> Claim:
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise RegistryError(f"The claims module {module_name} cannot be imported ({err}). Pass an "
                            "importable module name (a file my_claim.py in the folder pytest runs "
                            "from, or on PYTHONPATH, is `my_claim`).") from None
    claim = getattr(module, "DEFINITION", None)
    if not isinstance(claim, Claim):
        raise RegistryError(f"The claims module {module_name} ({module.__file__}) defines no "
                            "`DEFINITION = Claim(...)` (ntkbench.claims.registry.Claim), so it "
                            "registers no claim; end the module with one.")
    return claim
