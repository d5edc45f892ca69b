"""Loaders for local copies of the papers' image datasets, as binary tasks.

- CIFAR-5m-bin: dog vs horse from CIFAR-5m (`cifar5m_part0.npz` .. `cifar5m_part5.npz`,
  keys X: uint8 (N, 32, 32, 3), Y: class 0-9 in CIFAR-10 order). Parts are read one at a
  time (about 3 GB each) and only the two classes kept.
- CIFAR-10-bin: the same two classes from CIFAR-10's python version
  (`cifar-10-batches-py/data_batch_1..5`, `test_batch`), a stand-in for users without
  CIFAR-5m, labelled as such.
- SVHN-parity: parity of the digit from SVHN's cropped digits (`train_32x32.mat`,
  `extra_32x32.mat`, `test_32x32.mat`; X: (32, 32, 3, N) uint8, y: (N, 1) in 1..10 where 10
  is the digit 0); training pool balanced between the classes.
Images are scaled to [0, 1] and standardised per channel with the statistics of every pool
image the files hold, so a task's first n pool images and its test set do not depend on the
pool size asked for (claims with different pools share their kernel rows).
"""

from __future__ import annotations

import functools

import pickle
import zipfile
from pathlib import Path

import numpy as np

from ntkbench.data.errors import DataError
from ntkbench.data.tasks import Task

DOG, HORSE = 5, 7
CIFAR5M_PARTS = [f"cifar5m_part{i}.npz" for i in range(6)]
CIFAR10_DIR = "cifar-10-batches-py"
SVHN_FILES = ("train_32x32.mat", "extra_32x32.mat", "test_32x32.mat")


def _folder(data_dir, dataset: str, files: list[str], fmt: str, where: str) -> Path:
    """`data_dir` as a Path once it holds every one of `files`; otherwise the one-paragraph
    error that says which files, their format and where to get them (also when no folder
    was given at all)."""
    shown = ", ".join(files[:3]) + (" ..." if len(files) > 3 else "")
    if data_dir is None:
        place = "no data folder was given (neither --data-dir nor NTKBENCH_DATA_DIR)"
    elif not all((Path(data_dir) / f).exists() for f in files):
        place = f"it is not in --data-dir={data_dir}"
    else:
        return Path(data_dir)
    raise DataError(
        f"{dataset} is needed at this scale, but {place}: expected {shown}. Format: {fmt}. "
        f"Get it from {where}, put the files in one folder and pass it with --data-dir "
        "(or set NTKBENCH_DATA_DIR).")


def _channel_stats(reference):
    """Per-channel mean and standard deviation of uint8 images scaled to [0, 1], accumulated
    in chunks (a CIFAR-5m pool is gigabytes)."""
    total, squares = np.zeros(reference.shape[-1]), np.zeros(reference.shape[-1])
    for i in range(0, len(reference), 8192):
        chunk = reference[i:i + 8192].astype(np.float64) / 255
        total += chunk.sum(axis=(0, 1, 2))
        squares += np.square(chunk).sum(axis=(0, 1, 2))
    count = reference.size // reference.shape[-1]
    mean = total / count
    return mean, np.sqrt(np.maximum(squares / count - mean**2, 0)) + 1e-6


def _two_classes(x, y, positive: int, negative: int):
    keep = (y == positive) | (y == negative)
    return x[keep], np.where(y[keep] == positive, 1.0, -1.0).astype(np.float32)


def _shuffled(x, y, seed):
    order = np.random.default_rng(seed).permutation(len(y))
    return x[order], y[order]


def cifar5m_bin(data_dir, n_pool: int, n_test: int, seed: int = 0) -> Task:
    """Dog (+1) vs horse (-1) from CIFAR-5m: pool from parts 0-4, test from part 5."""
    fmt = "numpy .npz with X uint8 (N, 32, 32, 3) and Y int labels 0-9 (dog 5, horse 7)"
    data_dir = _folder(data_dir, "CIFAR-5m", CIFAR5M_PARTS, fmt,
                       "the CIFAR-5m release of Nakkiran, Neyshabur, Sedghi (2021)")
    x_pool, y_pool, x_test, y_test = _dog_horse([data_dir / n for n in CIFAR5M_PARTS],
                                                _read_cifar5m_part, "CIFAR-5m part", fmt, seed)
    return _task("cifar5m-bin", x_pool, y_pool, x_test, y_test, n_pool, n_test)


def _read_cifar5m_part(path):
    with np.load(path) as part:
        return part["X"], np.asarray(part["Y"]).reshape(-1)


def _read_cifar10_batch(path):
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    x = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(batch[b"labels"])


def _dog_horse(paths, read, what: str, fmt: str, seed: int):
    """Dog (+1) / horse (-1) images of every file: all but the last file form the pool, the
    last one the test set, each shuffled by `seed`. `read(path)` returns (images, labels)."""
    x_pool, y_pool, x_test, y_test = _dog_horse_files(_versions(paths), read, what, fmt)
    return _shuffled(x_pool, y_pool, seed) + _shuffled(x_test, y_test, seed + 1)


def _versions(paths) -> tuple:
    """(path, modification time, size) of each file that exists: a cache key that a rewritten
    file misses."""
    return tuple((Path(p), *((Path(p).stat().st_mtime_ns, Path(p).stat().st_size) if Path(p).exists() else ()))
                 for p in paths)


@functools.lru_cache(maxsize=1)
def _dog_horse_files(versions, read, what: str, fmt: str):
    """The pool and test images of `_dog_horse`, unshuffled: read once per process and file
    version (`_versions`), since each trial draws its own subsets of them."""
    xs, ys = [], []
    for path, *_ in versions:
        try:
            x, y = _two_classes(*read(path), DOG, HORSE)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile,
                pickle.UnpicklingError) as err:
            raise DataError(f"{path} is not a readable {what} ({err}). Format: {fmt}.") from None
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs[:-1]), np.concatenate(ys[:-1]), xs[-1], ys[-1]


def _task(name, x_pool, y_pool, x_test, y_test, n_pool, n_test) -> Task:
    if len(y_pool) < n_pool or len(y_test) < n_test:
        raise DataError(f"{name} has {len(y_pool)} training and {len(y_test)} test images of "
                        f"the two classes, fewer than the {n_pool} / {n_test} requested.")
    mean, std = _channel_stats(x_pool)

    def standardised(images):
        return ((images.astype(np.float32) / 255 - mean) / std).astype(np.float32)

    return Task(name, standardised(x_pool[:n_pool]), y_pool[:n_pool], standardised(x_test[:n_test]),
                y_test[:n_test])


def cifar10_bin(data_dir, n_pool: int, n_test: int, seed: int = 0) -> Task:
    """Dog (+1) vs horse (-1) from CIFAR-10 (python version): a stand-in for CIFAR-5m-bin."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    fmt = ("python pickles with b'data' (10000 x 3072 uint8: 1024 red, 1024 green, 1024 blue "
           "values, row-major 32 x 32) and b'labels'")
    folder = _folder(data_dir, "CIFAR-10 (python version)", [f"{CIFAR10_DIR}/{n}" for n in names], fmt,
                     "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz, unpacked)"
                     ) / CIFAR10_DIR
    x_pool, y_pool, x_test, y_test = _dog_horse([folder / n for n in names],
                                                _read_cifar10_batch, "CIFAR-10 batch", fmt, seed)
    return _task("cifar10-bin (stand-in for CIFAR-5m-bin)", x_pool, y_pool, x_test, y_test,
                 n_pool, n_test)


def _load_svhn(path: Path):
    """(images, +-1 parity labels) of an SVHN .mat file, read once per process and file version."""
    return _read_svhn(*_versions([path]))


@functools.lru_cache(maxsize=3)
def _read_svhn(version):
    from scipy.io import loadmat

    path = version[0]
    fmt = "MATLAB v5 .mat with X (32, 32, 3, N) uint8 and y (N, 1) in 1..10 (10 is the digit 0)"
    try:
        mat = loadmat(path)
        x = np.asarray(mat["X"], np.uint8).transpose(3, 0, 1, 2)
        digit = np.asarray(mat["y"]).reshape(-1) % 10
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise DataError(f"{path} is not a readable SVHN file ({err}). Format: {fmt}.") from None
    if x.shape[1:] != (32, 32, 3) or len(x) != len(digit):
        raise DataError(f"{path} has images of shape {x.shape[1:]} and {len(digit)} labels for "
                        f"{len(x)} images. Format: {fmt}.")
    return x, np.where(digit % 2 == 1, 1.0, -1.0).astype(np.float32)


def svhn_parity(data_dir, n_pool: int, n_test: int, seed: int = 0) -> Task:
    """Parity of the digit (+1 odd) from SVHN: pool balanced from train + extra, test on test."""
    data_dir = _folder(data_dir, "SVHN (cropped digits)", list(SVHN_FILES),
                       "MATLAB v5 .mat with X (32, 32, 3, N) uint8 and y (N, 1) in 1..10",
                       "http://ufldl.stanford.edu/housenumbers/ (format 2)")
    train = [_load_svhn(data_dir / f) for f in SVHN_FILES[:2]]
    x, y = _shuffled(np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]), seed)
    per_class = n_pool // 2
    odd, even = np.flatnonzero(y > 0)[:per_class], np.flatnonzero(y < 0)[:n_pool - per_class]
    if len(odd) < per_class or len(even) < n_pool - per_class:
        raise DataError(f"SVHN in {data_dir} has too few images for a balanced pool of {n_pool}.")
    keep = np.sort(np.concatenate([odd, even]))
    x_test, y_test = _shuffled(*_load_svhn(data_dir / SVHN_FILES[2]), seed + 1)
    return _task("svhn-parity", x[keep], y[keep], x_test, y_test, n_pool, n_test)
