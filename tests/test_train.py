"""The minibatch SGD trainer: Keras' batching, optax updates, divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkbench import models, train


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(13, 5)).astype(np.float32), rng.normal(size=13).astype(np.float32)


def _sgd_by_hand(net, params, x, y, batches, lr):
    for real in batches:
        grads = jax.grad(lambda p: jnp.mean((net.apply({"params": p}, x[real]) - y[real]) ** 2))(params)
        params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
    return params


def _assert_same(a, b):
    for got, want in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_epoch_is_keras_minibatch_sgd(data):
    """13 points, batch 4: four steps on a fresh permutation, the last on one point."""
    x, y = data
    spec = models.mlp([6, 9], W_std=1.3, b_std=0.4)
    net = models.network(spec)
    params = net.init(jax.random.PRNGKey(0), x)["params"]
    key = jax.random.PRNGKey(5)
    idx, mask = train.epoch_batches(jax.random.split(key, 1)[0], 13, 4)
    assert mask.sum(1).tolist() == [4, 4, 4, 1]
    want = _sgd_by_hand(net, params, x, y, [np.asarray(i)[np.asarray(m) > 0] for i, m in zip(idx, mask)], 0.05)
    fit = train.fit_mse(spec, jax.tree.map(jnp.copy, params), x, y, key=key, lr=0.05,
                        batch_size=4, epochs=1)
    _assert_same(fit.params, want)


def test_sgd_fits_a_small_problem(data):
    x, y = data
    spec = models.mlp([64])
    params = models.network(spec).init(jax.random.PRNGKey(0), x)["params"]
    before = float(np.mean((models.network(spec).apply({"params": params}, x) - y) ** 2))
    fit = train.fit_mse(spec, params, x, y, key=jax.random.PRNGKey(1), lr=0.1, batch_size=4,
                        epochs=300)
    assert not fit.diverged
    assert fit.train_mse < before / 20


def test_one_epoch_of_full_batches_is_one_gd_step(data):
    """batch_size >= n: each epoch is one full-batch gradient step, whatever the shuffle."""
    x, y = data
    spec = models.mlp([8])
    net = models.network(spec)
    params = net.init(jax.random.PRNGKey(0), x)["params"]
    want = _sgd_by_hand(net, params, x, y, [np.arange(len(x))], 0.05)
    fit = train.fit_mse(spec, jax.tree.map(jnp.copy, params), x, y, key=jax.random.PRNGKey(3),
                        lr=0.05, batch_size=16, epochs=1)
    _assert_same(fit.params, want)


def test_divergence_is_recorded(data):
    x, y = data
    spec = models.mlp([32])
    params = models.network(spec).init(jax.random.PRNGKey(0), x)["params"]
    fit = train.fit_mse(spec, params, x, y * 100, key=jax.random.PRNGKey(1), lr=50.0,
                        batch_size=4, epochs=50)
    assert fit.diverged


def test_eval_schedule_records_the_trajectory(data):
    """Outputs and parameters recorded after steps 3 and 8 equal those of runs stopped there."""
    x, y = data
    spec = models.mlp([16])
    net = models.network(spec)

    def init():
        return net.init(jax.random.PRNGKey(0), x)["params"]

    full = train.fit_mse(spec, init(), x, y, key=jax.random.PRNGKey(2), lr=0.05, batch_size=13,
                         epochs=8, eval_x=x[:4], eval_steps=[3, 8], snapshot=True)
    for i, epochs in enumerate([3, 8]):
        short = train.fit_mse(spec, init(), x, y, key=jax.random.PRNGKey(2), lr=0.05,
                              batch_size=13, epochs=epochs)
        np.testing.assert_allclose(full.eval_preds[i], net.apply({"params": short.params}, x[:4]), rtol=1e-5)
        jax.tree.map(lambda snaps, p: np.testing.assert_allclose(snaps[i], p, rtol=1e-5),
                     full.snapshots, short.params)
    with pytest.raises(ValueError, match="increase within 1..8"):
        train.fit_mse(spec, init(), x, y, key=jax.random.PRNGKey(2), lr=0.05, batch_size=13,
                      epochs=8, eval_steps=[9])


def test_seeds_train_together_as_they_would_apart(data):
    """fit_mse_seeds: seed i from params[i] with keys[i] on its own data, the same numbers as its own run."""
    x, y = data
    spec = models.mlp([16, 8])
    net = models.network(spec)
    inits = [net.init(jax.random.PRNGKey(s), x)["params"] for s in range(3)]
    keys = jnp.stack([jax.random.PRNGKey(10 + s) for s in range(3)])
    xs, ys = np.stack([x, x[::-1], 2 * x]), np.stack([y, y[::-1], y])
    kw = dict(lr=0.05, batch_size=4, epochs=3, momentum=0.9, eval_steps=[2, 12], snapshot=True)
    together = train.fit_mse_seeds(spec, jax.tree.map(lambda *p: jnp.stack(p), *inits), xs, ys, keys=keys,
                                   eval_x=xs[:, :5], **kw)
    for i, params in enumerate(inits):
        alone = train.fit_mse(spec, params, xs[i], ys[i], key=keys[i], eval_x=xs[i, :5], **kw)
        np.testing.assert_allclose(together.eval_preds[i], alone.eval_preds, rtol=1e-6)
        np.testing.assert_allclose(together.train_mse[i], alone.train_mse, rtol=1e-6)
        jax.tree.map(lambda s, a: np.testing.assert_allclose(s[i], a, rtol=1e-6), together.snapshots, alone.snapshots)
    assert together.diverged.tolist() == [False] * 3


def test_training_to_a_target_stops_at_the_first_round_that_meets_it(data):
    """Target: rounds continue one run (its first round is the one-round run), stop at the first
    round whose 0-1 training error meets the target, and record where; outputs after the stop
    are NaN; a target never met runs the whole budget."""
    x, y = data
    y = np.sign(y)
    spec = models.mlp([32])
    net = models.network(spec)

    def init():
        return net.init(jax.random.PRNGKey(0), x)["params"]

    kw = dict(key=jax.random.PRNGKey(2), lr=0.05, batch_size=13, epochs=20, momentum=0.9, eval_x=x[:4])
    one = train.fit_mse(spec, init(), x, y, eval_steps=[5, 20], **kw)
    assert one.steps == 20 and one.train_error is None
    met = train.fit_mse(spec, init(), x, y, eval_steps=[5, 20, 70, 200], until=train.Target(0.0, 10), **kw)
    errors = [train.network_error(spec, train.fit_mse(spec, init(), x, y, until=train.Target(-1.0, r), **kw).params,
                                   x, y) for r in range(1, 11)]
    first = next(r for r, e in enumerate(errors, 1) if e <= 0.0)
    assert 1 < first < 10, errors
    assert met.steps == 20 * first and met.train_error == 0.0
    np.testing.assert_allclose(met.eval_preds[:2], one.eval_preds, rtol=1e-6)
    assert np.isnan(met.eval_preds[np.array([5, 20, 70, 200]) > met.steps]).all()
    never = train.fit_mse(spec, init(), x, y, eval_steps=[5, 200], until=train.Target(-1.0, 10), **kw)
    assert never.steps == 200 and never.train_error == errors[-1] and np.isfinite(never.eval_preds).all()


def test_seeds_stop_on_their_own(data):
    """With several seeds, each stops at its own first round that meets the target, as alone."""
    x, y = data
    y = np.sign(y)
    spec = models.mlp([32])
    net = models.network(spec)
    inits = [net.init(jax.random.PRNGKey(s), x)["params"] for s in range(3)]
    keys = jnp.stack([jax.random.PRNGKey(10 + s) for s in range(3)])
    xs, ys = np.stack([x, x, 3 * x]), np.stack([y, -y, y])
    kw = dict(lr=0.05, batch_size=13, epochs=10, momentum=0.9, eval_steps=[5, 50, 300],
              until=train.Target(0.0, 30))
    together = train.fit_mse_seeds(spec, jax.tree.map(lambda *p: jnp.stack(p), *inits), xs, ys, keys=keys,
                                   eval_x=xs[:, :4], **kw)
    for i, params in enumerate(inits):
        alone = train.fit_mse(spec, params, xs[i], ys[i], key=keys[i], eval_x=xs[i, :4], **kw)
        assert together.steps[i] == alone.steps and together.train_error[i] == alone.train_error
        np.testing.assert_allclose(together.eval_preds[i], alone.eval_preds, rtol=1e-5)
        jax.tree.map(lambda s, a: np.testing.assert_allclose(s[i], a, rtol=1e-5), together.params, alone.params)
    assert len(set(together.steps.tolist())) > 1, together.steps
