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

`load` lists ntkbench's own claims in the order of the report, then those of the modules
a session names (`--claims-module`). A suite file marks its tests `claim(name)` and reads
the result through the `bench` fixture; its baselines are `baselines/<scale>/<name>.json`.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Sequence

from ntkbench.results import ClaimResult

# The order of the report: [V]'s claims as the paper makes them, [W], [I].
BUILTIN = ("ntkbench.claims.nn_vs_ntk_exponent", "ntkbench.claims.width_deterioration",
           "ntkbench.claims.after_kernel", "ntkbench.claims.no_phase_transition",
           "ntkbench.claims.practical_limits", "ntkbench.claims.nn_vs_ntk_rmse")


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


def load(modules: Sequence[str] = ()) -> dict[str, Claim]:
    """The claims by name: ntkbench's own in report order, then those of `modules` (importable
    module names, each defining `DEFINITION`)."""
    claims: dict[str, Claim] = {}
    for name in BUILTIN + tuple(modules):
        claim = _definition(name)
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
