"""A researcher's binary dataset: .npz files with arrays X and y.

X is (n, ...) of numbers (vectors (n, d) or images (n, H, W, C)), y (n,) of exactly two
classes; the class that sorts first is labelled -1, the other +1. The test set is a second
file, or a fraction of the first drawn with a seed. The training part, shuffled with the
protocol's seed, is the pool whose prefixes the n-grid trains on.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from ntkbench.config import NpzData
from ntkbench.data.errors import DataError
from ntkbench.data.tasks import Task

FIX = ("Save the file with np.savez(path, X=inputs, y=labels), inputs of shape (n, ...) and "
       "labels of shape (n,) with exactly two distinct values.")


def digest(path: str | Path) -> str:
    """The sha256 of the file `path` (a DataError when it cannot be read)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as err:
        raise DataError(f"The data file {path} cannot be read ({err.strerror or err}). Check the path "
                        "in your experiment file (a relative path is relative to that file).") from None


def _arrays(path: str, expected_digest: str) -> tuple[np.ndarray, np.ndarray]:
    if digest(path) != expected_digest:
        raise DataError(f"The data file {path} changed after the experiment was read (its sha256 "
                        "differs); run the session again so that every cell reads the same data.")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("X", "y") if k not in f.files]
            if missing:
                raise DataError(f"The data file {path} has no array {' or '.join(missing)} (it holds "
                                f"{', '.join(f.files) or 'nothing'}). {FIX}")
            x, y = f["X"], f["y"]
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"The data file {path} is not a readable .npz file ({err}). {FIX}") from None
    if x.ndim < 2 or y.shape != (len(x),) or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"The data file {path} holds X of shape {x.shape} ({x.dtype}) and y of shape "
                        f"{y.shape}: X must be numbers of shape (n, ...) with n >= 1 feature per "
                        f"sample and y of shape (n,). {FIX}")
    return x.astype(np.float32), y


def _signs(y: np.ndarray, path: str, classes: np.ndarray | None = None) -> np.ndarray:
    found = np.unique(y) if classes is None else classes
    if len(found) != 2 or not np.isin(y, found).all():
        raise DataError(f"The labels y in {path} take {len(np.unique(y))} distinct values "
                        f"({', '.join(map(str, np.unique(y)[:5]))}{', ...' if len(np.unique(y)) > 5 else ''}); "
                        f"the protocol's claims are binary: y needs exactly two classes"
                        f"{' (those of the training file)' if classes is not None else ''}. {FIX}")
    return np.where(y == found[1], 1.0, -1.0).astype(np.float32)


def split(data: NpzData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of `data`, labels +-1; a DataError in one paragraph
    (what, which file, what to do) for a file that is unreadable, changed, lacks X or y, or
    does not hold two classes."""
    x, y = _arrays(data.path, data.digest)
    signs = _signs(y, data.path)
    if data.test_file is not None:
        x_test, y_test = _arrays(data.test_file, data.test_digest)
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(f"The test file {data.test_file} holds inputs of shape {x_test.shape[1:]}, the "
                            f"training file {data.path} {x.shape[1:]}; both need the same shape.")
        return x, signs, x_test, _signs(y_test, data.test_file, np.unique(y))
    order = np.random.default_rng(data.split_seed).permutation(len(x))
    n_test = int(round(data.test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return x[train], signs[train], x[test], signs[test]


def binary_task(name: str, data: NpzData, n_pool: int, n_test: int, seed: int) -> Task:
    """The task `name` of `data`: the training part shuffled with `seed`, its first `n_pool`
    as the pool, and the first `n_test` test samples."""
    x, y, x_test, y_test = split(data)
    if n_pool > len(x) or n_test > len(x_test):
        raise DataError(f"{data.path} has {len(x)} training and {len(x_test)} test samples; the experiment "
                        f"needs {n_pool} and {n_test}. Shrink the experiment's n_grid (and the after-kernel's "
                        "m_grid) or give more samples.")
    order = np.random.default_rng(seed).permutation(len(x))[:n_pool]
    return Task(name, x[order], y[order], x_test[:n_test], y_test[:n_test])
