"""Binary tasks with labels in {-1, +1}, each drawn as a shuffled pool for nested n-grids.

A data-scaling curve trains on nested prefixes of a pool (n_1 < n_2 < ... all prefixes), so
one Gram matrix over (n_max + test) serves every n; each trial of a claim draws its own pool
and test set with its own seed (`claims.protocol.trial_seed`).
"""

from __future__ import annotations

import functools
import random
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


MNIST1D_SAMPLES = 10_000


@functools.lru_cache(maxsize=16)
def _mnist1d(num_samples: int, seed: int) -> dict:
    """mnist1d's `make_dataset` with `num_samples` and `seed`, the package's other
    arguments at their defaults. The generator seeds Python's and numpy's global random
    state; both are restored afterwards. About 3 s per 10,000 samples, hence the cache (one
    dataset per trial's seed, 3 MB each)."""
    import mnist1d.data

    args = mnist1d.data.get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        return mnist1d.data.make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def mnist1d_parity(n_pool: int, n_test: int, seed: int = 0) -> Task:
    """Parity of the digit behind an MNIST-1D signal, +1 for odd, -1 for even.

    Generated (never downloaded) by the `mnist1d` package's own `make_dataset`, with its
    default arguments except the seed and the number of samples: `MNIST1D_SAMPLES`, or
    the smallest multiple of it that holds the pool and the test set, so that within one
    such size pools are prefixes of each other and the test set does not depend on the pool
    size. The pool comes from the package's training split (its first 80%, after its
    seeded shuffle), the test set from its test split (the rest): disjoint. Signals keep
    the package's standardisation (one mean and standard deviation over all samples) and
    are returned as (n, 40, 1), one channel, for 1-D CNNs; the ten digits are equally
    frequent overall, so the labels are balanced up to the shuffle.

    References:
      Greydanus, "Scaling down deep learning", arXiv:2011.14439 (2020).
    """
    from mnist1d.data import get_dataset_args

    split, size = get_dataset_args().train_split, MNIST1D_SAMPLES
    while int(size * split) < n_pool or size - int(size * split) < n_test:
        size += MNIST1D_SAMPLES
    data = _mnist1d(size, seed)

    def part(x, digits, n):
        return x[:n, :, None].astype(np.float32), np.where(digits[:n] % 2 == 1, 1.0, -1.0).astype(np.float32)

    return Task("mnist1d-parity", *part(data["x"], data["y"], n_pool), *part(data["x_test"], data["y_test"], n_test))


def nested_grid(n_min: int, n_max: int, points: int) -> list[int]:
    """Log-spaced training-set sizes from n_min to n_max (distinct integers)."""
    return sorted({int(round(n)) for n in np.geomspace(n_min, n_max, points)})
