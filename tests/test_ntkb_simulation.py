"""The trial replay reproduces the reference code's global-RNG sequence bit for bit."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import normalize

from ntkbench.data.ntkb_simulation import n_fit_network, simulate_trial
from ntkbench.kernels.closed_form import reference_kernels


def _reference_sequence(trials, seed=11342, n_obs=1000, dim=15):
    """The reference script's loop, verbatim in its use of numpy's global RNG."""
    np.random.seed(seed)
    out = []
    for _ in range(trials):
        x = normalize(np.random.uniform(low=-5, high=7, size=dim * n_obs).reshape(n_obs, dim), norm="l2")
        y = np.random.multivariate_normal(np.repeat(0, n_obs), reference_kernels(x, x, ("NTKB1",))["NTKB1"])
        out.append(train_test_split(x, y, test_size=0.33))
    return out


@pytest.mark.parametrize("trial", [0, 2])
def test_replay_matches_reference_loop(trial):
    state = np.random.get_state()
    try:
        x_train, x_test, y_train, y_test = _reference_sequence(trial + 1)[trial]
    finally:
        np.random.set_state(state)
    t = simulate_trial(trial)
    np.testing.assert_array_equal(t.x_train, x_train)
    np.testing.assert_array_equal(t.x_test, x_test)
    np.testing.assert_array_equal(t.y_train, y_train)
    np.testing.assert_array_equal(t.y_test, y_test)
    assert (len(t.x_train), len(t.x_test)) == (670, 330)


def test_keras_validation_split_leaves_468():
    """Keras splits at floor(670 * (1 - 0.3)), and 670 * 0.7 is 468.99999999999994 in float64."""
    assert n_fit_network(670) == 468
