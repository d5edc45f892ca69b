"""Binary tasks with labels in {-1, +1}, drawn as one shuffled pool for nested n-grids.

A data-scaling curve trains on nested prefixes of one shuffled pool (n_1 < n_2 < ... all
prefixes), so one Gram matrix over (n_max + test) serves every n.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Task(NamedTuple):
    """Training pool (use prefixes of it) and a test set; labels are -1.0 / +1.0."""

    name: str
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def xor_task(n_pool: int, n_test: int, dim: int = 20, seed: int = 0) -> Task:
    """y = sign(x_1 x_2) with x ~ N(0, I_dim).

    The label depends on a 2-dimensional subspace only. A network can learn that subspace
    and needs O(dim) samples; rotation-invariant kernels (the NTK of an MLP) cannot adapt
    to it and need O(dim^2) (Wei, Lee, Liu, Ma, "Regularization matters", NeurIPS 2019;
    Ghorbani, Mei, Misiakiewicz, Montanari, "When do neural networks outperform kernel
    methods?", NeurIPS 2020): the setting where the NN's data-scaling exponent should beat
    the NTK's.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_pool + n_test, dim)).astype(np.float32)
    y = np.where(x[:, 0] * x[:, 1] > 0, 1.0, -1.0).astype(np.float32)
    return Task(f"xor-d{dim}", x[:n_pool], y[:n_pool], x[n_pool:], y[n_pool:])


def teacher_task(n_pool: int, n_test: int, dim: int = 20, teacher: int = 0, seed: int = 0,
                 noise: float = 0.0, link=np.sign) -> Task:
    """y = link(w_k . x) + noise with x ~ N(0, I_dim), w_k the `teacher`-th of `dim` fixed
    orthonormal directions (teachers 0 and 1 give two unrelated tasks on one input
    distribution, each with its own samples); `link` np.sign gives +-1 labels, np.tanh a smooth regression target."""
    directions = np.linalg.qr(np.random.default_rng(12345).normal(size=(dim, dim)))[0]
    rng = np.random.default_rng([seed, teacher])
    x = rng.normal(size=(n_pool + n_test, dim)).astype(np.float32)
    y = link(x @ directions[:, teacher]) + noise * rng.normal(size=len(x))
    y = y.astype(np.float32)
    return Task(f"teacher{teacher}-d{dim}", x[:n_pool], y[:n_pool], x[n_pool:], y[n_pool:])


def digits_parity(n_test: int = 773, seed: int = 0) -> Task:
    """Parity of the handwritten digit (sklearn's bundled 8x8 digits), +1 for odd.

    Pixels are standardised with the pool's mean and standard deviation; the split is a
    fixed shuffle of the 1797 images. Returns flat 64-vectors (reshape to (8, 8, 1) for
    a CNN).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    x = digits.data[order].astype(np.float32)
    y = np.where(digits.target[order] % 2 == 1, 1.0, -1.0).astype(np.float32)
    n_pool = len(y) - n_test
    mean, std = x[:n_pool].mean(0), x[:n_pool].std(0) + 1e-6
    x = (x - mean) / std
    return Task("digits-parity", x[:n_pool], y[:n_pool], x[n_pool:], y[n_pool:])


def nested_grid(n_min: int, n_max: int, points: int) -> list[int]:
    """Log-spaced training-set sizes from n_min to n_max (distinct integers)."""
    return sorted({int(round(n)) for n in np.geomspace(n_min, n_max, points)})
