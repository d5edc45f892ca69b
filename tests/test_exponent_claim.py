"""Pieces of the exponent claim that can be checked exactly."""

import numpy as np

from ntkbench.claims.nn_vs_ntk_exponent import critical_lr


def test_critical_lr_of_a_scaled_identity():
    """K = c I: every batch Gram K_B / B has top eigenvalue c / B, so lr = (1 + mu) B / c."""
    assert np.isclose(critical_lr(3.0 * np.eye(50), batch_size=10, seed=0), 1.9 * 10 / 3.0)


def test_critical_lr_takes_the_worst_batch():
    k = np.eye(40)
    k[:20, :20] += 1.0  # a block of correlated points: batches drawn there have larger curvature
    lr = critical_lr(k, batch_size=8, seed=0, batches=64)
    assert lr < 1.9 * 8 / 1.0 and lr > 1.9 * 8 / (1.0 + 8)
