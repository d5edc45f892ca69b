"""The simulated regression task of [I]: inputs on the unit sphere, y ~ GP(0, NTKB1).

The draws replay the reference code's use of numpy's legacy global RNG, in its order:
per trial a uniform(-5, 7) design, then `multivariate_normal` (standard normals, then an
SVD of the covariance), then sklearn's `train_test_split` (a permutation). Replaying
the cheap draws lets any trial be rebuilt on its own, bit for bit, without the others'
covariance matrices.

References:
  [I] "Issues with Neural Tangent Kernel Approach to Neural Networks", Sec. 4.1.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from sklearn.preprocessing import normalize

from ntkbench.kernels.closed_form import reference_kernels

SEED = 11342
N_OBS, DIM = 1000, 15
TEST_SIZE = 0.33
KERAS_VALIDATION_SPLIT = 0.3


class Trial(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _n_test(n: int) -> int:
    return math.ceil(TEST_SIZE * n)


def n_fit_network(n_train: int) -> int:
    """Training points Keras fits with `validation_split=0.3`: the first floor(n * 0.7).

    In float64 670 * 0.7 is 468.99999999999994, so Keras fits 468 of 670 points (not 469).
    """
    return math.floor(n_train * (1.0 - KERAS_VALIDATION_SPLIT))


def _draw(rng: np.random.RandomState, n_obs: int, dim: int):
    x = rng.uniform(low=-5, high=7, size=dim * n_obs).reshape(n_obs, dim)
    x = normalize(x, norm="l2")
    mvn_state = rng.get_state()
    rng.standard_normal(n_obs)
    perm = rng.permutation(n_obs)
    return x, mvn_state, perm


def simulate_trial(trial: int, seed: int = SEED, n_obs: int = N_OBS, dim: int = DIM) -> Trial:
    """Trial `trial` (0-based) of the reference sequence started by `np.random.seed(seed)`."""
    rng = np.random.RandomState(seed)
    for _ in range(trial):
        _draw(rng, n_obs, dim)
    x, mvn_state, perm = _draw(rng, n_obs, dim)
    cov = reference_kernels(x, x, names=("NTKB1",))["NTKB1"]
    mvn = np.random.RandomState()
    mvn.set_state(mvn_state)
    y = mvn.multivariate_normal(np.zeros(n_obs), cov, check_valid="ignore")
    test, train = perm[: _n_test(n_obs)], perm[_n_test(n_obs):]
    return Trial(x[train], y[train], x[test], y[test])
