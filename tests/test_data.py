"""Tests for experiments.data: synthetic teacher + in-program noise, real small sets, dispatch."""

import dataclasses
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from ml_collections import config_dict

from experiments import data

NUM_NOISE_SAMPLES = 200_000


# --------------------------------------------------------------------------------------------
# Synthetic regression
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("teacher", data.TEACHERS)
def test_synthetic_shapes_dtypes_and_determinism(teacher):
    kwargs = dict(teacher=teacher, n_train=300, n_test=100, dim=5)
    a = data.synthetic_regression(**kwargs, data_seed=1)
    b = data.synthetic_regression(**kwargs, data_seed=1)
    c = data.synthetic_regression(**kwargs, data_seed=2)
    assert a.x_train.shape == (300, 5) and a.x_test.shape == (100, 5)
    assert a.y_train.shape == (300,) and a.y_test.shape == (100,)
    assert a.input_shape == (5,) and a.task == "regression" and a.num_classes is None
    for field in ("x_train", "x_test", "y_train", "y_test", "f_train", "f_test"):
        assert getattr(a, field).dtype == np.float32
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))  # bitwise
        assert not np.array_equal(getattr(a, field), getattr(c, field))
    # noise-free: y is the teacher output
    np.testing.assert_array_equal(a.y_train, a.f_train)
    np.testing.assert_array_equal(a.y_test, a.f_test)


def test_synthetic_train_set_is_independent_of_test_size_and_nested_in_n_train():
    a = data.synthetic_regression(n_train=200, n_test=50, dim=4, data_seed=3)
    b = data.synthetic_regression(n_train=400, n_test=80, dim=4, data_seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train[:200])
    np.testing.assert_array_equal(a.x_test, b.x_test[:50])
    lin_a = data.synthetic_regression(teacher="linear", n_train=10, dim=4, data_seed=3)
    lin_b = data.synthetic_regression(teacher="linear", n_train=500, dim=4, data_seed=3)
    np.testing.assert_array_equal(lin_a.true_coef, lin_b.true_coef)


@pytest.mark.parametrize("teacher", data.TEACHERS)
@pytest.mark.parametrize("data_seed", [0, 1, 2])
def test_synthetic_teacher_has_unit_variance(teacher, data_seed):
    ds = data.synthetic_regression(teacher=teacher, data_seed=data_seed)
    assert abs(ds.f_train.var() - 1) < 0.3
    assert abs(ds.f_test.var() - 1) < 0.3


def test_linear_teacher_is_x_times_true_coef():
    ds = data.synthetic_regression(teacher="linear", dim=7, data_seed=5)
    assert ds.true_coef.shape == (7,)
    np.testing.assert_array_equal(ds.true_coef, data.linear_teacher_weights(7, 5))
    np.testing.assert_allclose(np.linalg.norm(ds.true_coef), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.f_train, ds.x_train @ ds.true_coef)
    np.testing.assert_array_equal(ds.f_test, ds.x_test @ ds.true_coef)
    # Least squares on the noise-free targets recovers the coefficients.
    coef, *_ = np.linalg.lstsq(ds.x_train, ds.y_train, rcond=None)
    np.testing.assert_allclose(coef, ds.true_coef, atol=1e-5)


def test_nonlinear_teacher_is_not_linear_and_has_no_true_coef():
    ds = data.synthetic_regression(teacher="nonlinear", data_seed=0)
    assert ds.true_coef is None
    coef, *_ = np.linalg.lstsq(ds.x_train, ds.y_train, rcond=None)
    residual_var = np.var(ds.y_train - ds.x_train @ coef)
    assert residual_var > 0.05  # a linear fit leaves a clear nonlinear part


def test_synthetic_arrays_are_read_only():
    ds = data.synthetic_regression(n_train=8, n_test=4, dim=2)
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0] = 1.0


def test_unknown_teacher_names_close_match():
    with pytest.raises(ValueError, match="'linear'"):
        data.synthetic_regression(teacher="lineer")


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------

KNOBS = dict(df=3.0, contamination=0.1, outlier_scale=10.0)


def _noise(family, scale=0.7, seed=0, **knobs):
    knobs = {**KNOBS, **knobs}
    x = jax.random.normal(jax.random.key(123), (NUM_NOISE_SAMPLES, 3))
    f = jnp.zeros(NUM_NOISE_SAMPLES, jnp.float32)
    y = data.add_noise(jax.random.key(seed), f, x, family=family, scale=scale, **knobs)
    return np.asarray(y, np.float64), np.asarray(x)


@pytest.mark.parametrize("family", ["gaussian", "laplace", "contaminated", "heteroscedastic"])
def test_empirical_std_matches_noise_std(family):
    noise, _ = _noise(family)
    expected = float(data.noise_std(family, 0.7, **KNOBS))
    assert abs(noise.std() / expected - 1) < 0.02
    assert abs(noise.mean()) < 0.02 * expected


def test_noise_std_closed_forms():
    assert float(data.noise_std("gaussian", 2.0)) == pytest.approx(2.0)
    assert float(data.noise_std("laplace", 2.0)) == pytest.approx(2.0)
    assert float(data.noise_std("student_t", 2.0, df=3.0)) == pytest.approx(2.0 * np.sqrt(3.0))
    assert float(data.noise_std("student_t", 2.0, df=5.0)) == pytest.approx(
        2.0 * scipy.stats.t.std(5))
    assert np.isinf(float(data.noise_std("student_t", 1.0, df=2.0)))
    assert np.isinf(float(data.noise_std("student_t", 1.0, df=1.0)))
    assert float(data.noise_std("contaminated", 1.0, contamination=0.1, outlier_scale=10.0)) == (
        pytest.approx(np.sqrt(0.9 + 0.1 * 100)))
    assert float(data.noise_std("contaminated", 1.0, contamination=0.0)) == pytest.approx(1.0)


def test_laplace_has_excess_kurtosis_three():
    noise, _ = _noise("laplace")
    kurtosis = scipy.stats.kurtosis(noise, fisher=False)
    assert abs(kurtosis / 6 - 1) < 0.10


def test_gaussian_noise_is_normal_and_laplace_has_same_std():
    gauss, _ = _noise("gaussian")
    laplace, _ = _noise("laplace")
    assert abs(scipy.stats.kurtosis(gauss)) < 0.05
    assert abs(gauss.std() / laplace.std() - 1) < 0.02


def test_student_t_median_absolute_deviation():
    noise, _ = _noise("student_t", scale=1.3, df=3.0)
    mad = np.median(np.abs(noise - np.median(noise)))
    assert abs(mad / (1.3 * scipy.stats.t.ppf(0.75, 3)) - 1) < 0.03


def test_contaminated_outlier_fraction():
    noise, _ = _noise("contaminated", scale=1.0, contamination=0.1, outlier_scale=10.0)
    # |N(0,1)| > 4 has probability 6e-5; |N(0,100)| > 4 has probability 0.69.
    fraction_large = np.mean(np.abs(noise) > 4)
    expected = 0.1 * 2 * scipy.stats.norm.sf(0.4) + 0.9 * 2 * scipy.stats.norm.sf(4)
    assert abs(fraction_large / expected - 1) < 0.05


def test_heteroscedastic_std_grows_with_first_feature():
    noise, x = _noise("heteroscedastic", scale=1.0)
    small = np.abs(x[:, 0]) < 0.25
    large = np.abs(x[:, 0]) > 1.5
    assert noise[large].std() > 2.5 * noise[small].std()
    # The std at |x0| = a is (1/2 + a)/sqrt(5/4 + sqrt(2/pi)).
    near_one = np.abs(np.abs(x[:, 0]) - 1.0) < 0.05
    expected = 1.5 / np.sqrt(1.25 + np.sqrt(2 / np.pi))
    assert abs(noise[near_one].std() / expected - 1) < 0.05


@pytest.mark.parametrize("family", data.NOISE_FAMILIES)
def test_add_noise_under_jit_and_vmap_with_traced_knobs(family):
    n = 64
    x = jax.random.normal(jax.random.key(1), (n, 4))
    f = jnp.linspace(-1, 1, n, dtype=jnp.float32)

    @jax.jit
    def noisy(key, scale, df, contamination, outlier_scale):
        return data.add_noise(key, f, x, family=family, scale=scale, df=df,
                              contamination=contamination, outlier_scale=outlier_scale)

    keys = jax.random.split(jax.random.key(0), 3)
    scales = jnp.array([0.0, 0.5, 1.0], jnp.float32)
    ys = jax.vmap(noisy)(keys, scales, jnp.full(3, 4.0), jnp.full(3, 0.2), jnp.full(3, 5.0))
    assert ys.shape == (3, n) and ys.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(ys)))
    np.testing.assert_array_equal(ys[0], f)  # scale 0 adds nothing
    assert not np.allclose(ys[1], f)
    # Same key and knobs -> same noise; another key -> different noise.
    np.testing.assert_array_equal(ys[1], noisy(keys[1], 0.5, 4.0, 0.2, 5.0))
    assert not np.allclose(ys[1], noisy(keys[2], 0.5, 4.0, 0.2, 5.0))
    # Noise is linear in scale for a fixed key.
    np.testing.assert_allclose(noisy(keys[1], 1.0, 4.0, 0.2, 5.0) - f, 2 * (ys[1] - f),
                               rtol=1e-5, atol=1e-6)


def test_add_noise_vmap_over_scale_only_shares_key():
    f = jnp.zeros(10)
    ys = jax.vmap(lambda s: data.add_noise(jax.random.key(7), f, None, family="gaussian",
                                           scale=s))(jnp.array([1.0, 3.0]))
    np.testing.assert_allclose(ys[1], 3 * ys[0], rtol=1e-6)


def test_add_noise_rejects_bad_arguments():
    f, key = jnp.zeros(4), jax.random.key(0)
    with pytest.raises(ValueError, match="'student_t'"):
        data.add_noise(key, f, None, family="studentt", scale=1.0)
    with pytest.raises(ValueError, match="'laplace'"):
        data.noise_std("laplac", 1.0)
    with pytest.raises(ValueError, match="scale"):
        data.add_noise(key, f, None, family="gaussian", scale=-1.0)
    with pytest.raises(ValueError, match="contamination"):
        data.add_noise(key, f, None, family="contaminated", scale=1.0, contamination=1.5)
    with pytest.raises(ValueError, match="needs the inputs x"):
        data.add_noise(key, f, None, family="heteroscedastic", scale=1.0)


# --------------------------------------------------------------------------------------------
# Real small sets
# --------------------------------------------------------------------------------------------


def _flat(a):
    return a.reshape(a.shape[0], -1)


def _assert_train_standardized(ds, per_feature=True):
    x_train, x_test = _flat(ds.x_train).astype(np.float64), _flat(ds.x_test).astype(np.float64)
    if per_feature:
        std = x_train.std(axis=0)
        varying = std > 0
        assert varying.sum() > 0
        np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(std[varying], 1, rtol=1e-4)
        np.testing.assert_array_equal(x_train[:, ~varying], 0)
        assert not np.allclose(x_test.mean(axis=0)[varying], 0, atol=1e-3)
    else:
        assert abs(x_train.mean()) < 1e-5 and abs(x_train.std() - 1) < 1e-4
        assert abs(x_test.mean()) > 1e-5 or abs(x_test.std() - 1) > 1e-4


def test_diabetes():
    ds = data.diabetes()
    assert ds.task == "regression" and ds.num_classes is None and ds.input_shape == (10,)
    assert ds.x_train.shape == (331, 10) and ds.x_test.shape == (111, 10)
    assert ds.y_train.shape == (331,) and ds.y_test.shape == (111,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.float32
    _assert_train_standardized(ds)
    assert abs(ds.y_train.mean()) < 1e-5 and abs(ds.y_train.std() - 1) < 1e-4
    assert ds.y_test.mean() != 0 and ds.f_train is None and ds.true_coef is None


def test_diabetes_split_is_deterministic_by_seed():
    a, b = data.diabetes(split_seed=1), data.diabetes(split_seed=1)
    c = data.diabetes(split_seed=2, test_fraction=0.5)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train[:50], data.diabetes(split_seed=2).y_train[:50])
    assert c.x_test.shape == (221, 10)


@pytest.mark.parametrize("image", [True, False])
def test_digits(image):
    ds = data.digits(image=image)
    shape = (8, 8, 1) if image else (64,)
    assert ds.task == "classification" and ds.num_classes == 10 and ds.input_shape == shape
    assert ds.x_train.shape == (1347, *shape) and ds.x_test.shape == (450, *shape)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert set(np.unique(ds.y_train)) == set(range(10)) and set(np.unique(ds.y_test)) <= set(
        range(10))
    _assert_train_standardized(ds)
    # Stratified: class proportions in test match those in train to within one example per class.
    train_counts = np.bincount(ds.y_train, minlength=10) / len(ds.y_train)
    test_counts = np.bincount(ds.y_test, minlength=10) / len(ds.y_test)
    np.testing.assert_allclose(train_counts, test_counts, atol=1 / len(ds.y_test) + 1e-9)


def test_digits_image_and_flat_hold_the_same_values_and_split_is_seeded():
    image, flat = data.digits(image=True), data.digits(image=False)
    np.testing.assert_array_equal(_flat(image.x_train), flat.x_train)
    np.testing.assert_array_equal(image.y_test, flat.y_test)
    other = data.digits(split_seed=1)
    np.testing.assert_array_equal(data.digits(split_seed=1).x_train, other.x_train)
    assert not np.array_equal(image.y_train, other.y_train)


def test_mnist1d():
    ds = data.mnist1d(num_samples=1000, seed=0)
    assert ds.task == "classification" and ds.num_classes == 10 and ds.input_shape == (40, 1)
    assert ds.x_train.shape == (800, 40, 1) and ds.x_test.shape == (200, 40, 1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.y_train.min() >= 0 and ds.y_train.max() <= 9
    assert set(np.unique(ds.y_train)) == set(range(10))
    _assert_train_standardized(ds, per_feature=False)


def test_mnist1d_is_deterministic_by_seed_and_leaves_global_rng_alone():
    # mnist1d's generator seeds numpy's legacy global RNG; ours must leave it as it found it.
    np.random.seed(99)  # noqa: NPY002
    expected_next = np.random.random()  # noqa: NPY002
    np.random.seed(99)  # noqa: NPY002
    a = data.mnist1d(num_samples=200, seed=3)
    assert np.random.random() == expected_next  # noqa: NPY002
    b = data.mnist1d(num_samples=200, seed=3)
    c = data.mnist1d(num_samples=200, seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_mnist1d_makes_no_network_call(monkeypatch):
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("mnist1d tried to use the network")

    for verb in ("get", "post", "request"):
        monkeypatch.setattr(requests, verb, no_network)
    monkeypatch.setattr(requests.Session, "request", no_network)
    monkeypatch.setattr("socket.socket.connect", no_network)
    ds = data.mnist1d(num_samples=100, seed=0)
    assert ds.x_train.shape == (80, 40, 1)


# --------------------------------------------------------------------------------------------
# Dispatch and validation
# --------------------------------------------------------------------------------------------


def _config(**fields):
    c = config_dict.ConfigDict()
    for key, value in fields.items():
        c[key] = value
    return c


def test_load_dispatches_and_ignores_noise_fields():
    noise_fields = dict(noise="student_t", noise_scale=0.5, df=3.0, contamination=0.1,
                        outlier_scale=10.0)
    ds = data.load(_config(name="synthetic", teacher="linear", n_train=64, n_test=32, dim=3,
                           data_seed=4, test_fraction=0.5, num_samples=10, **noise_fields))
    direct = data.synthetic_regression(teacher="linear", n_train=64, n_test=32, dim=3,
                                       data_seed=4)
    np.testing.assert_array_equal(ds.x_train, direct.x_train)
    np.testing.assert_array_equal(ds.true_coef, direct.true_coef)

    ds = data.load(_config(name="digits", test_fraction=0.5, split_seed=2, image=False,
                           n_train=5, **noise_fields))
    assert ds.name == "digits" and ds.input_shape == (64,) and ds.x_test.shape[0] == 899
    ds = data.load({"name": "diabetes"})  # a plain mapping works; absent fields take defaults
    assert ds.x_train.shape == (331, 10)
    ds = data.load(types.SimpleNamespace(name="mnist1d", num_samples=100, seed=1))
    assert ds.x_train.shape == (80, 40, 1)


def test_load_unknown_name_suggests_close_match():
    with pytest.raises(ValueError, match="'mnist1d'"):
        data.load(_config(name="mnist_1d"))
    with pytest.raises(ValueError, match="'digits'"):
        data.load(_config(name="digit"))
    with pytest.raises(ValueError, match="synthetic, diabetes, digits, mnist1d, mnist"):
        data.load(_config(name="cifar10"))
    with pytest.raises(ValueError, match="no 'name'"):
        data.load(_config(n_train=3))


def test_validate_and_load_reject_non_finite(monkeypatch):
    good = data.synthetic_regression(n_train=16, n_test=8, dim=2)
    x_bad = np.array(good.x_test)
    x_bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"'synthetic'.*x_test"):
        data.validate(dataclasses.replace(good, x_test=x_bad))
    y_bad = np.array(good.y_train)
    y_bad[0] = np.inf
    with pytest.raises(ValueError, match=r"'synthetic'.*y_train"):
        data.validate(dataclasses.replace(good, y_train=y_bad))

    bad = dataclasses.replace(good, name="diabetes", y_train=y_bad)
    monkeypatch.setitem(data._LOADERS, "diabetes", lambda **kwargs: bad)
    with pytest.raises(ValueError, match=r"'diabetes'.*y_train.*non-finite"):
        data.load(_config(name="diabetes"))


def test_validate_rejects_inconsistent_shapes_and_labels():
    ds = data.digits(image=False)
    with pytest.raises(ValueError, match="input_shape"):
        data.validate(dataclasses.replace(ds, input_shape=(8, 8, 1)))
    with pytest.raises(ValueError, match="examples"):
        data.validate(dataclasses.replace(ds, y_test=ds.y_test[:-1]))
    with pytest.raises(ValueError, match="labels outside"):
        data.validate(dataclasses.replace(ds, y_train=ds.y_train + 1))
    assert data.validate(ds) is ds



# --- validation split -----------------------------------------------------------------------


def test_validation_split_is_carved_from_training_data_seeded_and_stratified():
    from experiments import config_schema

    config = config_schema.base_config().dataset
    config.name = "digits"
    full = data.load(config)
    config.validation_fraction = 0.2
    split = data.load(config)
    n = full.x_train.shape[0]
    assert split.x_train.shape[0] + split.x_val.shape[0] == n
    np.testing.assert_array_equal(split.x_test, full.x_test)  # the test split is untouched
    # Train and validation partition the original training rows (no row in both).
    rows = {r.tobytes() for r in full.x_train.reshape(n, -1)}
    val_rows = {r.tobytes() for r in split.x_val.reshape(len(split.x_val), -1)}
    train_rows = {r.tobytes() for r in split.x_train.reshape(len(split.x_train), -1)}
    assert val_rows <= rows and train_rows <= rows and not val_rows & train_rows
    counts = np.bincount(split.y_val, minlength=10) / np.bincount(full.y_train, minlength=10)
    assert np.all(np.abs(counts - 0.2) < 0.04)  # stratified
    again = data.load(config)
    np.testing.assert_array_equal(again.x_val, split.x_val)
    config.validation_seed = 1
    assert not np.array_equal(data.load(config).y_val, split.y_val)
    view = data.validation_view(split)
    np.testing.assert_array_equal(view.x_test, split.x_val)
    assert view.x_val is None


def test_validation_split_size_depends_on_n_only():
    """Stratified, yet round(fraction·n) examples for any class counts: MNIST-1D's draws (other
    class counts per data_seed) then give data of one shape, so they share one compiled program.
    Per-class rounding gave 320, 321 or 322 of 1,600 by seed."""
    from experiments import config_schema

    sizes = set()
    for seed in range(6):
        config = config_schema.base_config().dataset
        config.name, config.num_samples, config.data_seed = "mnist1d", 2000, seed
        config.validation_fraction = 0.2
        split = data.load(config)
        counts = np.bincount(split.y_train, minlength=10) + np.bincount(split.y_val, minlength=10)
        per_class = np.bincount(split.y_val, minlength=10)
        assert np.all(np.abs(per_class - 0.2 * counts) < 1)  # each class within one of its share
        sizes.add(split.x_val.shape[0])
    assert sizes == {round(0.2 * 1600)}
    # The quota itself: largest remainders get the extra examples, ties to the lower class.
    np.testing.assert_array_equal(data._stratified_quota(np.array([5, 5, 5]), 0.5, 15), [3, 3, 2])
    np.testing.assert_array_equal(data._stratified_quota(np.array([3, 7]), 0.3, 10), [1, 2])


def test_validation_split_synthetic_keeps_teacher_outputs_aligned():
    split = data.split_validation(data.synthetic_regression(teacher="linear", n_train=100), 0.3, 0)
    np.testing.assert_allclose(split.x_val @ split.true_coef, split.f_val, rtol=1e-5, atol=1e-5)
    assert split.x_val.shape[0] == 30 and split.f_train.shape[0] == 70


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_validation_fraction_out_of_range_names_the_field(fraction):
    with pytest.raises(ValueError, match="validation_fraction"):
        data.split_validation(data.synthetic_regression(n_train=10), fraction, 0)


# --- skewed families: closed-form quantiles (noise_quantile) against 1e5 Monte Carlo draws ----


@pytest.mark.parametrize("family", [*data.SKEWED_FAMILIES, "gaussian", "laplace", "student_t",
                                    "contaminated"])
def test_noise_quantile_closed_forms_match_monte_carlo(family):
    draws, _ = _noise(family, scale=0.7, contamination=0.1, outlier_scale=5.0, df=4.0)
    assert draws.size >= 100_000
    for tau in (0.1, 0.5, 0.9):
        offset = data.noise_quantile(family, tau, 0.7, df=4.0, contamination=0.1,
                                     outlier_scale=5.0)
        # Fraction of draws below the claimed quantile: binomial sd √(τ(1-τ)/n) ≈ 0.0016.
        assert abs(np.mean(draws <= offset) - tau) < 0.006, (family, tau, offset)
    assert abs(draws.mean()) < 5 * draws.std() / np.sqrt(draws.size)  # every family: mean 0


@pytest.mark.parametrize("family", data.SKEWED_FAMILIES)
def test_skewed_families_std_and_skew(family):
    draws, _ = _noise(family, scale=0.7, contamination=0.1, outlier_scale=5.0)
    expected = float(data.noise_std(family, 0.7, contamination=0.1, outlier_scale=5.0))
    assert abs(draws.std() / expected - 1) < 0.03
    assert scipy.stats.skew(draws) > 1.0  # right-skewed: the median sits below the mean
    assert data.noise_quantile(family, 0.5, 0.7, contamination=0.1, outlier_scale=5.0) < -0.1


def test_noise_quantile_known_values():
    # Exponential: median ln2 - 1; lognormal (σ = 1): (1 - e^½)/√((e - 1)e); Gaussian Φ⁻¹(0.9).
    assert data.noise_quantile("exponential", 0.5, 2.0) == pytest.approx(2 * (np.log(2) - 1))
    assert data.noise_quantile("exponential", 0.9, 1.0) == pytest.approx(np.log(10) - 1)
    assert data.noise_quantile("lognormal", 0.5) == pytest.approx(
        (1 - np.exp(0.5)) / np.sqrt((np.e - 1) * np.e))
    assert data.noise_quantile("gaussian", 0.9, 1.0) == pytest.approx(1.2815515655446004)
    assert data.noise_quantile("laplace", 0.5, 1.0) == 0.0
    with pytest.raises(ValueError, match="heteroscedastic"):
        data.noise_quantile("heteroscedastic", 0.5)
    with pytest.raises(ValueError, match="tau"):
        data.noise_quantile("exponential", 1.0)


# teacher_classes: a K-class task from a fixed random teacher's arg-max (issue 31, claim 11).
@pytest.mark.parametrize("num_classes", [2, 7, 100])
def test_teacher_classes_balanced_and_separated_by_the_teacher(num_classes):
    n_train = 10 * num_classes + 3
    ds = data.teacher_classes(num_classes=num_classes, n_train=n_train,
                              n_test=2 * num_classes, dim=6, data_seed=4)
    assert ds.num_classes == num_classes and ds.input_shape == (6,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    train_counts = np.bincount(ds.y_train, minlength=num_classes)
    # n // K per class, the first n mod K classes one more
    np.testing.assert_array_equal(
        train_counts, n_train // num_classes + (np.arange(num_classes) < n_train % num_classes))
    np.testing.assert_array_equal(np.bincount(ds.y_test, minlength=num_classes), 2)
    scores = data.teacher_class_scores(num_classes, dim=6, data_seed=4)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        np.testing.assert_array_equal(scores(x).argmax(-1), y)  # noise-free: exact
    # The classes are not sorted in the draw (minibatches see every class).
    assert np.any(np.diff(ds.y_train) < 0)


def test_teacher_classes_deterministic_and_seeded():
    a = data.teacher_classes(num_classes=5, n_train=50, n_test=20, data_seed=1)
    b = data.load({"name": "teacher_classes", "num_classes": 5, "n_train": 50, "n_test": 20,
                   "data_seed": 1})
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = data.teacher_classes(num_classes=5, n_train=50, n_test=20, data_seed=2)
    assert not np.array_equal(a.x_train, c.x_train)


def test_teacher_balances_a_random_network_that_would_leave_classes_nearly_empty():
    # On fresh inputs (not the pool the biases were fitted on), every class takes ≈ 1/K.
    scores = data.teacher_class_scores(50, data_seed=0)
    x = np.random.default_rng(9).standard_normal((20_000, 16))
    share = np.bincount(scores(x).argmax(-1), minlength=50) * 50 / len(x)
    assert share.min() > 0.6 and share.max() < 1.5, (share.min(), share.max())


@pytest.mark.parametrize("kwargs,message", [
    ({"num_classes": 1}, r"num_classes must be in \[2, 100\], got 1"),
    ({"num_classes": 101}, r"num_classes must be in \[2, 100\], got 101"),
    ({"num_classes": 10, "n_test": 9}, r"n_test must be >= num_classes=10.*n_test=9"),
])
def test_teacher_classes_refuses_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.teacher_classes(**kwargs)
