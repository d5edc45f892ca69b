"""What produced a result: code commit, package versions, backend, machine, date."""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

NUMERIC_PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "scipy", "scikit-learn", "mnist1d")
"""The packages whose versions can change a computed number (scikit-learn and mnist1d make
data); part of every cell's address."""
PACKAGES = ("ntkbench", *NUMERIC_PACKAGES, "matplotlib", "neural-tangents")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def numeric_versions() -> dict[str, str | None]:
    """The installed version of each of `NUMERIC_PACKAGES` (None where it is missing)."""
    return {p: _version(p) for p in NUMERIC_PACKAGES}


@functools.cache
def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=Path(__file__).parent,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() + ("+dirty" if dirty else "")) or None


def provenance() -> dict:
    import jax

    return {
        "commit": _commit(),
        "versions": {p: v for p in PACKAGES if (v := _version(p))},
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
