"""Tasks and dataset loaders, on small files the tests write in the real formats."""

import pickle

import numpy as np
import pytest
from scipy.io import savemat

from ntkbench.data import images, tasks
from ntkbench.data.errors import DataError


def _pattern(n):
    """Images whose red channel grows down the rows and green along the columns."""
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    img = np.stack([rows * 8, cols * 8, np.zeros_like(rows)], -1).astype(np.uint8)
    return np.repeat(img[None], n, 0)


def _labels(n, rng):
    return rng.integers(0, 10, size=n)


def _check_pattern(x):
    assert np.all(np.diff(x[0, :, 0, 0]) > 0) and np.all(np.diff(x[0, 0, :, 1]) > 0)
    assert np.allclose(x[0, :, 5, 0], x[0, :, 9, 0])


def test_cifar5m_parts(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        y = _labels(60, rng)
        np.savez(tmp_path / f"cifar5m_part{i}.npz", X=_pattern(60), Y=y)
    task = images.cifar5m_bin(tmp_path, n_pool=20, n_test=5)
    assert task.x_pool.shape == (20, 32, 32, 3) and set(np.unique(task.y_pool)) <= {-1.0, 1.0}
    _check_pattern(task.x_pool)


def test_cifar5m_pool_prefix_and_test_set_do_not_depend_on_the_pool_size(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        np.savez(tmp_path / f"cifar5m_part{i}.npz", X=rng.integers(0, 256, (60, 32, 32, 3), np.uint8),
                 Y=_labels(60, rng))
    small, large = (images.cifar5m_bin(tmp_path, n_pool=n, n_test=5) for n in (10, 40))
    np.testing.assert_array_equal(small.x_pool, large.x_pool[:10])
    np.testing.assert_array_equal(small.x_test, large.x_test)
    np.testing.assert_allclose(large.x_pool.mean(axis=(0, 1, 2)), 0, atol=0.1)


def test_cifar5m_labels_dog_positive(tmp_path):
    for i in range(6):
        np.savez(tmp_path / f"cifar5m_part{i}.npz", X=_pattern(4), Y=np.array([5, 7, 3, 5]))
    task = images.cifar5m_bin(tmp_path, n_pool=10, n_test=3)
    assert sorted(task.y_test.tolist()) == [-1.0, 1.0, 1.0]


def test_cifar10_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = _pattern(50).transpose(0, 3, 1, 2).reshape(50, 3072)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [5, 7] * 25, b"batch_label": b"x"}, f)
    task = images.cifar10_bin(tmp_path, n_pool=100, n_test=20)
    assert "stand-in" in task.name and task.y_pool.mean() == pytest.approx(0, abs=0.2)
    _check_pattern(task.x_pool)


def test_svhn_parity_balanced_and_zero_is_even(tmp_path):
    rng = np.random.default_rng(2)
    for name, n in zip(images.SVHN_FILES, (40, 40, 30)):
        savemat(tmp_path / name, {"X": _pattern(n).transpose(1, 2, 3, 0),
                                  "y": rng.integers(1, 11, size=(n, 1))})
    task = images.svhn_parity(tmp_path, n_pool=20, n_test=30)
    assert task.y_pool.sum() == 0
    _check_pattern(task.x_pool)
    savemat(tmp_path / "test_32x32.mat", {"X": _pattern(3).transpose(1, 2, 3, 0), "y": np.array([[10], [1], [2]])})
    assert sorted(images.svhn_parity(tmp_path, n_pool=20, n_test=3).y_test.tolist()) == [-1.0, -1.0, 1.0]


@pytest.mark.parametrize("loader,expected", [
    (images.cifar5m_bin, "cifar5m_part0.npz"),
    (images.cifar10_bin, "cifar-10-batches-py/data_batch_1"),
    (images.svhn_parity, "train_32x32.mat"),
])
def test_missing_files_name_what_and_where(tmp_path, loader, expected):
    with pytest.raises(DataError) as err:
        loader(tmp_path, n_pool=4, n_test=2)
    message = str(err.value)
    assert expected in message and str(tmp_path) in message and "--data-dir" in message
    assert "Format:" in message


@pytest.mark.parametrize("loader", [images.cifar5m_bin, images.cifar10_bin, images.svhn_parity])
def test_no_data_folder_is_the_same_paragraph(loader):
    with pytest.raises(DataError) as err:
        loader(None, n_pool=4, n_test=2)
    message = str(err.value)
    assert "no data folder was given" in message and "NTKBENCH_DATA_DIR" in message
    assert "Format:" in message and "Get it from" in message


def test_truncated_file_is_a_data_error(tmp_path):
    for i in range(6):
        np.savez(tmp_path / f"cifar5m_part{i}.npz", X=_pattern(4), Y=np.array([5, 7, 3, 5]))
    blob = (tmp_path / "cifar5m_part3.npz").read_bytes()
    (tmp_path / "cifar5m_part3.npz").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(DataError, match="cifar5m_part3.npz is not a readable CIFAR-5m part"):
        images.cifar5m_bin(tmp_path, n_pool=4, n_test=2)


def test_too_few_images_is_a_data_error(tmp_path):
    for i in range(6):
        np.savez(tmp_path / f"cifar5m_part{i}.npz", X=_pattern(4), Y=np.array([5, 7, 3, 5]))
    with pytest.raises(DataError, match="fewer than the 1000"):
        images.cifar5m_bin(tmp_path, n_pool=1000, n_test=2)


def test_xor_task_labels():
    task = tasks.xor_task(500, 100, dim=20)
    assert task.x_pool.shape == (500, 20)
    np.testing.assert_array_equal(task.y_pool, np.sign(task.x_pool[:, 0] * task.x_pool[:, 1]))


def test_digits_parity():
    task = tasks.digits_parity()
    assert task.x_pool.shape == (1024, 64) and task.x_test.shape == (773, 64)
    assert abs(task.y_pool.mean()) < 0.1
    np.testing.assert_allclose(task.x_pool.mean(0), 0, atol=1e-4)


def test_nested_grid():
    assert tasks.nested_grid(32, 1024, 6) == [32, 64, 128, 256, 512, 1024]


def test_teacher_tasks_are_reproducible_balanced_and_independent():
    a = tasks.teacher_task(200, 50, teacher=0, seed=3)
    b = tasks.teacher_task(200, 50, teacher=1, seed=3)
    assert set(np.unique(a.y_pool)) == {-1.0, 1.0} and 0.35 < np.mean(a.y_pool > 0) < 0.65
    np.testing.assert_array_equal(a.x_pool, tasks.teacher_task(200, 50, teacher=0, seed=3).x_pool)
    assert not np.allclose(a.x_pool, b.x_pool)  # each task draws its own samples
    smooth = tasks.teacher_task(200, 50, seed=3, noise=0.1, link=np.tanh)
    assert np.all(np.abs(smooth.y_pool) < 1.6) and len(np.unique(smooth.y_pool)) == 200


def test_mnist1d_parity_shapes_labels_and_split():
    task = tasks.mnist1d_parity(n_pool=600, n_test=200, seed=1)
    assert task.x_pool.shape == (600, 40, 1) and task.x_test.shape == (200, 40, 1)
    assert task.x_pool.dtype == np.float32
    for y in (task.y_pool, task.y_test):
        assert set(np.unique(y)) == {-1.0, 1.0} and abs(y.mean()) < 0.15
    pool, test = task.x_pool.reshape(600, -1), task.x_test.reshape(200, -1)
    assert not (set(map(bytes, pool)) & set(map(bytes, test)))  # disjoint
    assert abs(np.concatenate([pool, test]).mean()) < 0.1 and 0.9 < np.concatenate([pool, test]).std() < 1.1


def test_mnist1d_parity_is_deterministic_nested_and_leaves_global_random_state_alone():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    small, large = tasks.mnist1d_parity(100, 50, seed=1), tasks.mnist1d_parity(600, 200, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.testing.assert_array_equal(small.x_pool, large.x_pool[:100])
    np.testing.assert_array_equal(small.x_test, large.x_test[:50])
    tasks._mnist1d.cache_clear()
    np.testing.assert_array_equal(tasks.mnist1d_parity(600, 200, seed=1).x_pool, large.x_pool)
    assert not np.array_equal(tasks.mnist1d_parity(100, 50, seed=2).x_pool, small.x_pool)


def test_mnist1d_parity_generates_more_samples_for_a_larger_pool():
    task = tasks.mnist1d_parity(n_pool=8001, n_test=10, seed=1)
    assert task.x_pool.shape == (8001, 40, 1)
