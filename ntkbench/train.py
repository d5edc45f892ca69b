"""Training by minibatch SGD on the mean squared error.

Minibatching follows Keras' `fit(shuffle=True)`: a fresh permutation every epoch,
ceil(n / batch) steps, the last batch smaller, each batch's loss its own mean. Epochs
and steps run inside one jitted `lax.scan`, so a whole training run is one XLA call.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkbench.models import Spec, network


class FitResult(NamedTuple):
    params: dict
    train_mse: float
    diverged: bool
    eval_preds: np.ndarray | None = None
    snapshots: dict | None = None
    steps: int | None = None
    train_error: float | None = None


class Target(NamedTuple):
    """Train in rounds of the given epochs until the 0-1 training error (sign of the output
    against +-1 labels) is at most `error`, for at most `rounds` rounds: the step budget is
    `rounds` times a round's steps. A run stops at the end of the first round that meets the
    target; `FitResult.steps` says where, `FitResult.train_error` with what error.

    [V]'s networks reach zero training error; a fixed step count reached it on some pools
    and not on others (issue 27), so the protocol trains to the target instead.
    """

    error: float
    rounds: int


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def epochs_for(steps: int, n: int, batch_size: int) -> int:
    """The fewest epochs of n samples that hold `steps` steps of `batch_size`."""
    return -(-steps // steps_per_epoch(n, batch_size))


def epoch_batches(key, n: int, batch_size: int):
    """Indices (steps, batch) of one shuffled epoch and a mask of the real entries."""
    steps = steps_per_epoch(n, batch_size)
    perm = jax.random.permutation(key, n)
    idx = jnp.concatenate([perm, jnp.zeros(steps * batch_size - n, perm.dtype)])
    mask = (jnp.arange(steps * batch_size) < n).astype(jnp.float32)
    return idx.reshape(steps, batch_size), mask.reshape(steps, batch_size)


def _fit_one(spec, momentum, params, opt_state, memory, x, y, lr, batch_size, epochs, key, eval_x, slots,
             snapshot):
    """One round: `epochs` epochs from (params, opt_state), recording outputs on `eval_x` (and
    parameters with `snapshot`) into `memory` after each step t whose `slots[t]` is a slot."""
    net = network(spec)
    tx = optax.sgd(lr, momentum or None)

    def loss(p, xb, yb, mask):
        return jnp.sum(mask * (net.apply({"params": p}, xb) - yb) ** 2) / jnp.sum(mask)

    def record(memory, params, slot):
        preds, snaps = memory
        preds = preds.at[slot].set(net.apply({"params": params}, eval_x))
        if snapshot:
            snaps = jax.tree.map(lambda buf, p: buf.at[slot].set(p), snaps, params)
        return preds, snaps

    def step(carry, batch):
        params, opt_state, t, memory = carry
        idx, mask = batch
        grads = jax.grad(loss)(params, x[idx], y[idx], mask)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        memory = jax.lax.cond(slots[t] >= 0, lambda m: record(m, params, slots[t]), lambda m: m, memory)
        return (params, opt_state, t + 1, memory), None

    def epoch(carry, k):
        return jax.lax.scan(step, carry, epoch_batches(k, x.shape[0], batch_size))[0], None

    carry = (params, opt_state, 0, memory)
    params, opt_state, _, memory = jax.lax.scan(epoch, carry, jax.random.split(key, epochs))[0]
    return params, opt_state, memory, jnp.mean((net.apply({"params": params}, x) - y) ** 2)


_STATIC = dict(static_argnums=(0, 1, 8, 9, 13), donate_argnums=(2, 3, 4))
_fit = jax.jit(_fit_one, **_STATIC)
# one seed takes `_fit`: XLA's CPU code for a batch of one ran 1.5-2x slower
_fit_seeds = jax.jit(jax.vmap(_fit_one, in_axes=(None, None, 0, 0, 0, 0, 0, None, None, None, 0, 0, None, None)),
                     **_STATIC)
EVAL_ROWS = 4096


def zero_one_error(preds, y) -> np.ndarray:
    """Test error (sign disagreement) of each row of predictions; 1 where non-finite."""
    preds = np.asarray(preds)
    wrong = np.sign(preds) != np.asarray(y)
    return np.where(np.all(np.isfinite(preds), axis=-1), wrong.mean(-1), 1.0)


def network_error(spec: Spec, params: dict, x, y, rows: int = EVAL_ROWS) -> float:
    """`zero_one_error` of the network's outputs on `x`, computed `rows` inputs at a time."""
    apply = _apply(tuple(spec))
    return float(zero_one_error(np.concatenate([apply(params, jnp.asarray(x[i:i + rows]))
                                                for i in range(0, len(y), rows)]), y))


@functools.lru_cache(maxsize=16)
def _apply(spec: Spec):
    net = network(spec)
    return jax.jit(lambda p, x: net.apply({"params": p}, x))


def _train(program, spec, momentum, params, x, y, lr, batch_size, epochs, key, eval_x, eval_steps, snapshot,
           until, seeds):
    """Checks the schedule and runs `program` (`_fit` or `_fit_seeds`, with `seeds` the number of
    seeds or None) round after round (`until`; one round without): per seed its params, train MSE,
    outputs on `eval_x` at `eval_steps` (None without; NaN after the run's stop), parameter
    snapshots, steps trained and 0-1 training error at its stop."""
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y, jnp.float32)
    n = x.shape[1 if seeds else 0]
    per_round = epochs * steps_per_epoch(n, batch_size)
    rounds = until.rounds if until else 1
    eval_steps = np.asarray(eval_steps, int)
    if np.any(eval_steps < 1) or np.any(eval_steps > per_round * rounds) or np.any(np.diff(eval_steps) <= 0):
        raise ValueError(f"eval_steps must increase within 1..{per_round * rounds} "
                         f"(rounds x epochs x steps per epoch)")
    slots = np.full(per_round * rounds + 1, -1, np.int32)
    slots[eval_steps - 1] = np.arange(len(eval_steps))
    points = max(len(eval_steps), 1)
    eval_x = jnp.asarray((x[:, :1] if seeds else x[:1]) if eval_x is None else eval_x, jnp.float32)
    batch = () if seeds is None else (seeds,)
    init = optax.sgd(0.0, momentum or None).init
    opt_state = jax.vmap(init)(params) if seeds else init(params)
    preds = jnp.full(batch + (points, eval_x.shape[len(batch)]), jnp.nan, jnp.float32)
    snaps = jax.tree.map(lambda p: jnp.zeros(batch + (points,) + p.shape[len(batch):], p.dtype), params) if snapshot \
        else None
    memory = (preds, snaps)
    keys = jnp.asarray(key)
    stop = np.full(seeds or 1, -1)
    errors = np.full(seeds or 1, np.nan)
    kept = train_mse = None
    for r in range(rounds):
        round_keys = keys if r == 0 else (jax.vmap(lambda k: jax.random.fold_in(k, r))(keys) if seeds
                                          else jax.random.fold_in(keys, r))
        window = jnp.asarray(slots[r * per_round:(r + 1) * per_round + 1])
        params, opt_state, memory, mse = program(tuple(spec), float(momentum), params, opt_state, memory, x, y,
                                                 jnp.float32(lr), batch_size, epochs, round_keys, eval_x, window,
                                                 bool(snapshot))
        mse = np.atleast_1d(np.asarray(mse))
        now = np.array([network_error(spec, jax.tree.map(lambda p: p[i], params) if seeds else params,
                                       x[i] if seeds else x, y[i] if seeds else y)
                        for i in range(seeds or 1)]) if until else np.full(seeds or 1, np.nan)
        done = (now <= until.error) | ~np.isfinite(mse) if until else np.ones(seeds or 1, bool)
        last = r == rounds - 1
        newly = (stop < 0) & (done | last)
        if kept is None:
            kept, train_mse = jax.tree.map(np.array, params), mse.copy()
        for i in np.flatnonzero(newly):
            stop[i], errors[i], train_mse[i] = (r + 1) * per_round, now[i], mse[i]
            kept = jax.tree.map(lambda k, p: _set(k, i, p[i]), kept, params) if seeds else params
        if np.all(stop >= 0):
            break
    preds, snaps = np.asarray(memory[0]), memory[1]
    if len(eval_steps):
        late = eval_steps[None, :] > stop[:, None]
        preds = np.where(late[..., None] if seeds else late[0][:, None], np.nan, preds)
    return kept, train_mse, preds if len(eval_steps) else None, snaps, stop, errors


def _set(array, i, value):
    array = np.array(array)
    array[i] = value
    return array


def fit_mse(spec: Spec, params: dict, x, y, *, key, lr: float, batch_size: int, epochs: int,
            momentum: float = 0.0, eval_x=None, eval_steps=(), snapshot: bool = False,
            until: Target | None = None) -> FitResult:
    """Trains `models.network(spec)` on (x, y) by minibatch SGD (optax.sgd) on the MSE loss.

    One compilation serves every learning rate; `momentum` (0 = plain SGD), the batch size,
    the number of epochs and the shapes are compile-time constants. `params` is donated.
    With `eval_x` and `eval_steps` (1-based step counts), `eval_preds` holds the network's
    outputs on `eval_x` after each of those steps, shape (len(eval_steps), len(eval_x)); with
    `snapshot`, `snapshots` holds the parameters after each of them (leading axis the steps).
    With `until`, training goes on in rounds of `epochs` epochs until its target is met
    (`Target`); the eval steps may then reach the budget, and those after the stop are NaN.
    """
    params, train_mse, preds, snaps, stop, errors = _train(_fit, spec, momentum, params, x, y, lr, batch_size,
                                                           epochs, key, eval_x, eval_steps, snapshot, until, None)
    mse = float(train_mse[0])
    return FitResult(params, mse, not np.isfinite(mse), preds, snaps, int(stop[0]),
                     None if until is None else float(errors[0]))


def fit_mse_seeds(spec: Spec, params: dict, x, y, *, keys, lr: float, batch_size: int, epochs: int,
                  momentum: float = 0.0, eval_x=None, eval_steps=(), snapshot: bool = False,
                  until: Target | None = None) -> FitResult:
    """`fit_mse` for several seeds at once, vmapped into one XLA call.

    `params` (every leaf), `keys`, the data `x`, `y` and `eval_x` carry a leading seed axis:
    seed i starts from params[i], shuffles with keys[i] and trains on (x[i], y[i]); lr and
    schedule are shared. Every field of the result carries the seed axis too. On an
    accelerator this trains S small networks in about the time of one; on a CPU core it
    gives the same numbers as S separate runs, bit for bit.
    """
    keys = jnp.asarray(keys)
    if len(keys) == 1:
        fit = fit_mse(spec, jax.tree.map(lambda p: p[0], params), x[0], y[0], key=keys[0], lr=lr,
                      batch_size=batch_size, epochs=epochs, momentum=momentum,
                      eval_x=None if eval_x is None else eval_x[0], eval_steps=eval_steps, snapshot=snapshot,
                      until=until)
        return FitResult(*(None if v is None else jax.tree.map(lambda a: np.asarray(a)[None], v) for v in fit))
    params, train_mse, preds, snaps, stop, errors = _train(_fit_seeds, spec, momentum, params, x, y, lr, batch_size,
                                                           epochs, keys, eval_x, eval_steps, snapshot, until,
                                                           len(keys))
    return FitResult(params, train_mse, ~np.isfinite(train_mse), preds, snaps, stop,
                     None if until is None else errors)
