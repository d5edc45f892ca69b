"""The few JAX APIs that differ between the oracle stack (jax 0.4.25) and the current one."""

import contextlib

import jax


def x64():
    """Context in which JAX computes in float64 (`jax.enable_x64` moved across versions)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # jax < 0.5

    return enable_x64()


def maybe_x64(enabled: bool):
    return x64() if enabled else contextlib.nullcontext()
