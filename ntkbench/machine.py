"""The processor and numeric libraries a run computed with, for its provenance.

float32 training is chaotic and XLA compiles other instructions for other CPUs (or for the
same CPU under `XLA_FLAGS=--xla_cpu_max_isa=...`), so two machines give slightly different
numbers; a run records what it ran on so that a reader of two reports can tell why.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

ISA = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
       "asimd", "sve", "sve2")
"""The instruction-set extensions that change which code XLA and BLAS run (x86-64, arm64)."""


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _blas() -> str:
    from threadpoolctl import threadpool_info

    libraries = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture') or 'generic'} kernels)"
                 for i in threadpool_info() if i.get("user_api") == "blas"]
    forced = [f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    return ", ".join(libraries + forced) or "none loaded"


def describe() -> dict[str, str]:
    """The CPU model, its instruction-set extensions that matter to XLA and BLAS, the
    XLA_FLAGS in force and the BLAS library numpy uses."""
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "isa": " ".join(f for f in ISA if f in flags) or "unknown",
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "blas": _blas(),
    }
