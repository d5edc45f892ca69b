"""Power-law fits and their bootstrap CIs on curves whose exponents are known."""

import numpy as np

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
    errors = {"NN": np.array([0.5, 0.45, 0.38, 0.2, 0.1]), "NTK": np.array([0.5, 0.39, 0.35, 0.3, 0.25])}
    fitted = scaling.fit_range(ns, errors)
    assert fitted.mask.tolist() == [False, False, True, True, True] and fitted.unmet is None


def test_the_fit_range_leaves_out_n_where_the_networks_did_not_fit_their_training_set():
    ns = np.array([64, 128, 256, 512, 1024])
    errors = {"NN": np.full(5, 0.2)}
    fitted = scaling.fit_range(ns, errors, train_error=np.array([0, 0, 0.005, 0.02, 0.2]))
    assert fitted.mask.tolist() == [True, True, True, False, False]


def test_untrained_names_the_sizes_above_the_training_error_bound_with_their_errors():
    assert scaling.untrained([2, 4, 8, 16], np.array([0.4, 0.01, 0.02, 0.0])) == {2: 0.4, 8: 0.02}


def test_a_fit_range_of_fewer_than_three_points_is_unmet_and_keeps_the_grid():
    ns = np.array([64, 128, 256, 512])
    fitted = scaling.fit_range(ns, {"NN": np.array([0.5, 0.5, 0.3, 0.2])})
    assert fitted.mask.all() and "only 2 of the n-grid's 4 points" in fitted.unmet
