"""Power-law fits and their bootstrap CIs on curves whose exponents are known."""

import numpy as np
import pytest

from ntkbench import scaling, stats

NS = np.array([32, 64, 128, 256, 512, 1024])


def _curves(beta, trials=10, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    return 2.0 * NS ** -beta * np.exp(noise * rng.normal(size=(trials, len(NS))))


def test_exact_power_law():
    law = scaling.fit(NS, 3 * NS**-0.4)
    assert np.isclose(law.beta, 0.4) and np.isclose(law.a, 3) and np.isclose(law.r2, 1)
    assert abs(law.curvature) < 1e-9


def test_flattening_curve_has_positive_curvature():
    assert scaling.fit(NS, 0.05 + NS**-0.5).curvature > 0.02


def test_exponent_ci_covers_truth():
    est = scaling.exponent(NS, _curves(0.3))
    assert est.low < 0.3 < est.high and est.high - est.low < 0.1


def test_paired_difference_detects_and_abstains():
    a, b = _curves(0.5, seed=1), _curves(0.3, seed=2)
    assert stats.verdict(scaling.exponent_difference(NS, a, b), +1, diverged=0) == stats.SUPPORTED
    assert stats.verdict(scaling.exponent_difference(NS, b, a), +1, diverged=0) == stats.CONTRADICTED
    same = scaling.exponent_difference(NS, _curves(0.3, seed=3), _curves(0.3, seed=4))
    assert stats.verdict(same, +1, diverged=0) == stats.INCONCLUSIVE


def test_zero_errors_are_floored_and_counted():
    errors, zeros = scaling.floor_zeros([[0.1, 0.0], [0.0, 0.0]], n_test=100)
    assert zeros == 3 and errors[0, 1] == 0.005


def test_the_fit_range_keeps_the_points_every_model_has_left_chance_at():
    ns = np.array([64, 128, 256, 512, 1024])
    errors = {"NN": np.array([[0.5, 0.45, 0.38, 0.2, 0.1]]), "NTK": np.array([[0.5, 0.39, 0.35, 0.3, 0.25]])}
    fitted = scaling.fit_range(ns, errors, n_test=1000)
    assert fitted.mask.tolist() == [False, False, True, True, True] and fitted.unmet is None


def test_the_fit_range_leaves_out_n_where_the_networks_did_not_fit_their_training_set():
    ns = np.array([64, 128, 256, 512, 1024])
    errors = {"NN": np.full((1, 5), 0.2)}
    fitted = scaling.fit_range(ns, errors, train_error=np.array([[0, 0, 0.005, 0.02, 0.2]]), n_test=1000)
    assert fitted.mask.tolist() == [True, True, True, False, False]


def test_untrained_names_the_sizes_above_the_training_error_bound_with_their_errors():
    assert scaling.untrained([2, 4, 8, 16], np.array([0.4, 0.01, 0.02, 0.0])) == {2: 0.4, 8: 0.02}


def test_a_fit_range_of_fewer_than_three_points_is_unmet_and_keeps_the_grid():
    ns = np.array([64, 128, 256, 512])
    fitted = scaling.fit_range(ns, {"NN": np.array([[0.5, 0.5, 0.3, 0.2]])}, n_test=1000)
    assert fitted.mask.all() and "only 2 of the n-grid's 4 points" in fitted.unmet


def test_distance_counts_standard_errors_of_the_trial_mean_floored_at_its_resolution():
    spread = np.array([[0.010], [0.030], [0.010], [0.030]])  # mean 0.02, SE 0.005774
    (z,) = scaling.distance(scaling.Criterion(spread, 0.01, 1 / 1024))
    assert z == pytest.approx(0.01 / (0.02 / np.sqrt(12)))
    (z,) = scaling.distance(scaling.Criterion(np.zeros((8, 1)), 0.01, 1 / 64))  # no spread: one point in 8 x 64
    assert z == pytest.approx(0.01 * 8 * 64)


def test_kept_is_on_a_knife_edge_only_where_a_deciding_mean_is_near_its_threshold():
    rng = np.random.default_rng(0)
    trained = np.zeros((8, 3))
    near = 0.01 + 0.002 * rng.standard_normal((8, 1))  # within a standard error or two of 1%
    far = 0.3 + 0.02 * rng.standard_normal((8, 1))
    mask, margin = scaling.kept(scaling.Criterion(np.hstack([trained, far]), 0.01, 1 / 1024))
    assert mask.tolist() == [True, True, True, False] and margin > scaling.KNIFE_EDGE
    _, margin = scaling.kept(scaling.Criterion(np.hstack([trained, near]), 0.01, 1 / 1024))
    assert margin < scaling.KNIFE_EDGE
    # a point left out by one criterion far from its threshold stays out whatever the other does
    _, margin = scaling.kept(scaling.Criterion(np.hstack([trained, near]), 0.01, 1 / 1024),
                             scaling.Criterion(np.hstack([trained, far]), 0.1, 1 / 1000))
    assert margin > scaling.KNIFE_EDGE


def test_within_a_range_the_point_is_the_fit_on_it_and_a_range_every_resample_keeps_changes_nothing():
    a, b = _curves(0.5, seed=1), _curves(0.3, seed=2)
    errors = {"a": a, "b": b}
    fitted = scaling.fit_range(NS, errors, n_test=10**6, chance=10.0)
    assert fitted.mask.all() and fitted.resampled.all()
    np.testing.assert_allclose(scaling.exponent(NS, a, within=fitted), scaling.exponent(NS, a), rtol=1e-12)
    np.testing.assert_allclose(scaling.exponent_difference(NS, a, b, within=fitted),
                               scaling.exponent_difference(NS, a, b), rtol=1e-12)
    part = fitted._replace(mask=NS >= 128, resampled=np.broadcast_to(NS >= 128, fitted.resampled.shape))
    np.testing.assert_allclose(scaling.exponent(NS, a, within=part), scaling.exponent(NS[2:], a[:, 2:]), rtol=1e-12)


def test_a_range_on_a_knife_edge_is_chosen_again_in_every_resample_and_widens_the_interval():
    """Trial means at n = 64 straddle 0.8 x chance: resamples keep or drop it, and a curve that
    is not a power law then gets the spread of both fits, which a fixed range hides."""
    rng = np.random.default_rng(0)
    curve = np.array([0.45, 0.40, 0.3, 0.15, 0.08, 0.05])  # steeper past 128: not one power law
    nn = curve * np.exp(0.03 * rng.normal(size=(8, len(NS))))
    nn[:, 1] = 0.4 + 0.02 * rng.normal(size=8)
    fitted = scaling.fit_range(NS, {"NN": nn}, n_test=10**6)
    keeps = fitted.resampled[:, 1].mean()
    assert 0.1 < keeps < 0.9 and not fitted.resampled[:, 0].any()
    fixed = scaling.exponent(NS[fitted.mask], nn[:, fitted.mask])
    chosen = scaling.exponent(NS, nn, within=fitted)
    assert chosen.value == fixed.value and chosen.high - chosen.low > 2 * (fixed.high - fixed.low)
