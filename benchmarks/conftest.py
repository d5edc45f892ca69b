import time

import jax
import pytest


def best_time(fn, rounds: int = 3) -> float:
    """Fastest of `rounds` calls of fn, waiting for JAX results to be ready."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.fixture
def best_of():
    """The reference side of a ratio: `best_of(fn, rounds)` seconds."""
    return best_time
