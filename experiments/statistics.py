"""Uncertainty for the evidence report: bootstrap intervals, paired comparisons, Holm, test noise.

Every number a claim prints comes with an `Interval` (estimate, low, high at `LEVEL` = 95%).
The unit of resampling is what varies between repetitions of the experiment: seeds, Monte Carlo
datasets, data splits. Samples are arrays whose LAST axis is that unit; leading axes are
independent problems, so 1,000 simulations (or 12 cells of a table) are bootstrapped in one call.
A 2-d unit layout (data resamples × seeds) is bootstrapped in two stages (`nested=True`):
resample the outer unit, then the inner one within it (the hierarchical bootstrap; Davison &
Hinkley 1997, §3.8).

Intervals are bootstrap-t-critical intervals: estimate ± t_{n−1}·SE*, where SE* is the bootstrap
standard deviation of the statistic times √(n/(n−1)) (which makes it unbiased for a mean's s²/n)
and n is the number of resampled units. With n = 5 seeds the percentile interval reads the
bootstrap distribution near its bounded extremes and covers about 89%; Student's critical value
keeps the coverage at 95% for a Gaussian mean (`tests/test_statistics.py`: 93–97% over 1,000
simulations at n = 5 and n = 40) while the bootstrap SE serves any statistic (ratios, variances,
nested splits × seeds). Heavy tails (e.g. variances under infinite-variance noise) make any
bootstrap unreliable: the claims say so where it applies.

Comparisons:
* `paired_difference(a, b)`: arms that share seeds / datasets are resampled with the SAME
  indices, so the noise they share cancels (narrower than `unpaired_difference` when the arms
  are positively correlated).
* `ratio_of_means(a, b)`: mean(a)/mean(b), its interval on the log scale where every mean is
  positive (it then stays positive: a ratio near 0 never gets a negative lower end).
* `holm(p_values)`: Holm's step-down adjustment when a verdict combines several comparisons.
* `accuracy_test_noise(p, n_test)` and `with_test_noise(...)`: an accuracy measured on n test
  examples has binomial sampling noise √(p(1−p)/n) on top of the seed noise; a difference of two
  accuracies on the same test set gets at most the sum of their variances (`better` then never
  overstates a gap). The variance is added to the bootstrap's (Satterthwaite's df).

A rule says "better" only when the paired difference's interval excludes zero (`Interval.excludes`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.stats

LEVEL = 0.95
RESAMPLES = 2000


@dataclasses.dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided interval at `level`; p_value tests "the estimate is 0"
    (difference) or is NaN where no null is meaningful (a plain mean)."""

    estimate: float
    low: float
    high: float
    level: float = LEVEL
    p_value: float = math.nan

    def excludes(self, value: float = 0.0) -> bool:
        return bool(self.low > value or self.high < value)

    def contains(self, value: float) -> bool:
        return bool(self.low <= value <= self.high)

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def format(self, spec: str = ".3g", scale: float = 1.0, unit: str = "") -> str:
        """'1.23 [1.01, 1.45]' (×scale, then the unit after each number, e.g. '%')."""
        e, lo, hi = (format(v * scale, spec) + unit for v in (self.estimate, self.low, self.high))
        return f"{e} [{lo}, {hi}]"

    def __str__(self) -> str:
        return self.format()

    def as_columns(self, prefix: str) -> dict[str, float]:
        """{prefix: estimate, prefix_low: ..., prefix_high: ...} for a table row."""
        return {prefix: self.estimate, f"{prefix}_low": self.low, f"{prefix}_high": self.high}

    @classmethod
    def from_columns(cls, row, prefix: str) -> Interval:
        """The inverse of `as_columns`: row[prefix], row[prefix_low], row[prefix_high] (a
        pandas row or any mapping; `prefix_p` becomes p_value where the row has it)."""
        p_value = row.get(f"{prefix}_p", math.nan) if hasattr(row, "get") else math.nan
        return cls(float(row[prefix]), float(row[f"{prefix}_low"]), float(row[f"{prefix}_high"]),
                   p_value=float(p_value))


def _t_interval(estimate, se, df, level: float, null: float | None):
    """estimate ± t_df·se, with the two-sided p-value of `null` on the same t (NaN: no null)."""
    crit = scipy.stats.t.ppf(0.5 + level / 2, df)
    low, high = estimate - crit * se, estimate + crit * se
    if null is None:
        p = np.full(np.shape(estimate), np.nan)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2 * scipy.stats.t.sf(np.abs(estimate - null) / se, df)
        p = np.where(se > 0, p, np.where(estimate == null, 1.0, 0.0))
    # One Interval per problem: an object array over the leading axes, a plain one without.
    interval = lambda e, lo, hi, pv: Interval(float(e), float(lo), float(hi), level, float(pv))
    return np.frompyfunc(interval, 4, 1)(estimate, low, high, p)


def bootstrap_replicates(
    statistic: Callable[..., np.ndarray],
    *samples: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = 0,
    nested: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(point estimate (...), replicates (..., resamples), units n) of `statistic`.

    `samples` share their unit axes (the last one; the last two when nested) and are resampled
    with the same indices (paired). `statistic(*arrays)` reduces those unit axes, taking arrays
    of shape (..., units) (nested: (..., outer, inner)) and accepting extra leading axes.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(s, np.float64) for s in samples]
    estimate = np.asarray(statistic(*arrays))
    # Indices drawn with replacement: units (the outer axis when nested), then within each.
    if nested:
        units, inner = arrays[0].shape[-2:]
        i = rng.integers(0, units, size=(resamples, units))  # (R, outer)
        j = rng.integers(0, inner, size=(resamples, units, inner))  # within each chosen outer
        picked = [a[..., i[:, :, None], j] for a in arrays]  # (..., R, outer, inner)
    else:
        units = arrays[0].shape[-1]
        idx = rng.integers(0, units, size=(resamples, units))
        picked = [a[..., idx] for a in arrays]  # (..., R, n)
    return estimate, np.asarray(statistic(*picked)), units


def bootstrap_se(replicates: np.ndarray, units: int) -> np.ndarray:
    """Bootstrap standard error, √(n/(n−1))·SD*: unbiased for a mean's variance s²/n."""
    scale = math.sqrt(units / (units - 1)) if units > 1 else 1.0
    return replicates.std(-1) * scale


def _interval(estimate, replicates, units, level, null: float | None, extra_var=None):
    se = bootstrap_se(replicates, units)
    df = max(units - 1, 1)
    if extra_var is not None:
        # Satterthwaite: the known (binomial) variance has infinite degrees of freedom.
        total = se**2 + extra_var
        with np.errstate(divide="ignore", invalid="ignore"):
            df = np.where(se > 0, total**2 * (units - 1) / np.maximum(se**4, 1e-300), 1e6)
        se = np.sqrt(total)
    return _t_interval(estimate, se, df, level, null)


def bootstrap(
    statistic: Callable[..., np.ndarray],
    *samples: np.ndarray,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = 0,
    nested: bool = False,
    null: float | None = None,
) -> Interval | np.ndarray:
    """Expanded-percentile bootstrap interval of `statistic` (see bootstrap_replicates).

    Returns an Interval, or an object array of Intervals for leading problem axes. `null`: the
    value whose two-sided p-value to attach (e.g. 0 for a difference, 1 for a ratio)."""
    est, reps, units = bootstrap_replicates(
        statistic, *samples, resamples=resamples, seed=seed, nested=nested
    )
    return _interval(est, reps, units, level, null)


def _mean_units(x: np.ndarray, nested: bool) -> np.ndarray:
    return x.mean(axis=(-2, -1)) if nested else x.mean(-1)


def mean(samples: np.ndarray, *, nested: bool = False, level: float = LEVEL,
         resamples: int = RESAMPLES, seed: int = 0) -> Interval | np.ndarray:
    """Interval for the mean over the unit axis (seeds, datasets; nested: splits × seeds)."""
    return bootstrap(lambda x: _mean_units(x, nested), samples, level=level,
                     resamples=resamples, seed=seed, nested=nested)


def paired_difference(a: np.ndarray, b: np.ndarray, *, nested: bool = False,
                      level: float = LEVEL, resamples: int = RESAMPLES,
                      seed: int = 0) -> Interval | np.ndarray:
    """Interval for mean(a − b) where a[..., k] and b[..., k] share unit k (seed, dataset)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired arms must have the same shape, got {a.shape} and {b.shape}")
    return bootstrap(lambda x, y: _mean_units(x - y, nested), a, b, level=level,
                     resamples=resamples, seed=seed, nested=nested, null=0.0)


def unpaired_difference(a: np.ndarray, b: np.ndarray, *, level: float = LEVEL,
                        resamples: int = RESAMPLES, seed: int = 0) -> Interval | np.ndarray:
    """Interval for mean(a) − mean(b), the arms resampled independently (no shared units)."""
    (est_a, rep_a, n_a), (est_b, rep_b, n_b) = _arm_means(a, b, resamples, seed)
    return _interval(est_a - est_b, rep_a - rep_b, min(n_a, n_b), level, 0.0)


def _arm_means(a, b, resamples: int, seed: int):
    """(estimate, replicates, units) of each arm's mean, bootstrapped independently."""
    return [bootstrap_replicates(lambda x: x.mean(-1), arm, resamples=resamples, seed=seed + i)
            for i, arm in enumerate((a, b))]


def ratio_of_means(a: np.ndarray, b: np.ndarray, *, paired: bool = True, level: float = LEVEL,
                   resamples: int = RESAMPLES, seed: int = 0) -> Interval | np.ndarray:
    """Interval for mean(a) / mean(b) (paired: shared units resampled together); null 1.

    Computed on the log scale, exp(log r ± t·SE*(log r)), where the estimate and every bootstrap
    replicate are positive (MSEs, variances, losses): the interval then stays positive and is
    symmetric in log, so a/b and b/a get reciprocal intervals. A problem whose means can be
    ≤ 0 falls back to the linear interval r ± t·SE*(r)."""
    if paired:
        est, reps, units = bootstrap_replicates(lambda x, y: x.mean(-1) / y.mean(-1), a, b,
                                                resamples=resamples, seed=seed)
    else:
        (est_a, rep_a, n_a), (est_b, rep_b, n_b) = _arm_means(a, b, resamples, seed)
        est, reps, units = est_a / est_b, rep_a / rep_b, min(n_a, n_b)
    positive = (est > 0) & (reps > 0).all(-1)
    linear = _interval(est, reps, units, level, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = _interval(np.log(np.where(positive, est, 1.0)),
                        np.log(np.where(positive[..., None], reps, 1.0)), units, level, 0.0)
    choose = lambda log_iv, ok, linear_iv: _exp_interval(log_iv) if ok else linear_iv
    return np.frompyfunc(choose, 3, 1)(log, positive, linear)  # per problem, as _t_interval


def _exp_interval(iv: Interval) -> Interval:
    return Interval(math.exp(iv.estimate), math.exp(iv.low), math.exp(iv.high), iv.level,
                    iv.p_value)


def holm(p_values: Sequence[float], level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction: (adjusted p-values, reject at family-wise 1 − level).

    Sorted p₍₁₎ ≤ … ≤ p₍ₘ₎: adjusted p₍ᵢ₎ = max_{j≤i} min(1, (m − j + 1)·p₍ⱼ₎) (Holm 1979)."""
    p = np.asarray(p_values, np.float64)
    m = p.size
    order = np.argsort(p)
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted, adjusted < 1.0 - level


def accuracy_test_noise(accuracy: np.ndarray, n_test: int) -> np.ndarray:
    """Binomial standard error of an accuracy measured on n_test examples: √(p(1−p)/n)."""
    p = np.clip(np.asarray(accuracy, np.float64), 0.0, 1.0)
    return np.sqrt(p * (1.0 - p) / n_test)


def binomial_interval(successes: int, trials: int, level: float = LEVEL) -> Interval:
    """Wilson score interval for a proportion (one accuracy on one test set)."""
    return _wilson(successes / trials, trials, level)


def _wilson(p: float, trials: float, level: float) -> Interval:
    """Wilson's score interval for a proportion p observed on `trials` (possibly effective,
    non-integer) independent trials; inside [0, 1] by construction."""
    z = scipy.stats.norm.ppf(0.5 + level / 2)
    center = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
    # Mathematically low ≤ p ≤ high (with equality at p = 0 or 1); keep it so after rounding.
    return Interval(float(p), max(0.0, min(p, center - half)), min(1.0, max(p, center + half)),
                    level)


def with_test_noise(
    a: np.ndarray, b: np.ndarray | None, n_test: int, *, level: float = LEVEL,
    resamples: int = RESAMPLES, seed: int = 0,
) -> Interval | np.ndarray:
    """Accuracy (b None) or paired accuracy difference a − b: seed bootstrap + binomial noise.

    The test set is shared by every seed, so its sampling error does not average out over seeds:
    its variance p(1−p)/n (one arm) or p_a(1−p_a)/n + p_b(1−p_b)/n (a difference on the same
    test set: an upper bound when the arms' errors are positively correlated) is added to the
    seed bootstrap's, with Satterthwaite's degrees of freedom."""
    arms = [np.asarray(arm, np.float64) for arm in ((a,) if b is None else (a, b))]
    # mean(a − b); one arm: mean(a − 0) = mean(a), with no null to test
    est, reps, units = bootstrap_replicates(lambda x, y=0.0: (x - y).mean(-1), *arms,
                                            resamples=resamples, seed=seed)
    var = sum(accuracy_test_noise(arm.mean(-1), n_test) ** 2 for arm in arms)
    return _interval(est, reps, units, level, None if b is None else 0.0, extra_var=var)


def geometric_mean_ratio(a: np.ndarray, b: np.ndarray | None = None, *, nested: bool = False,
                         level: float = LEVEL, resamples: int = RESAMPLES,
                         seed: int = 0) -> Interval:
    """Interval for the geometric mean of a/b (b None: of a), paired over shared units: the
    bootstrap interval of mean(log a − log b), exponentiated (null: ratio 1). For positive
    ratio-scale quantities (norms, growth factors) whose spread is multiplicative."""
    logs = np.log(np.asarray(a, np.float64))
    if b is not None:
        logs = logs - np.log(np.asarray(b, np.float64))
    return _exp_interval(bootstrap(lambda x: _mean_units(x, nested), logs, level=level,
                                   resamples=resamples, seed=seed, nested=nested, null=0.0))


def percentile_interval(
    statistic: Callable[..., np.ndarray], *samples: np.ndarray, level: float = LEVEL,
    resamples: int = RESAMPLES, seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of `statistic` (Efron & Tibshirani 1993, §13.3): the
    (1 − level)/2 and (1 + level)/2 quantiles of the replicates. For medians and other order
    statistics, whose bootstrap distribution is discrete and skewed, it stays inside the range
    the statistic can take (a median's interval never leaves the data's range), where the
    estimate ± t·SE* interval of `bootstrap` can (a median α of [−0.72, 1.61] for α ≥ 0)."""
    est, reps, _ = bootstrap_replicates(statistic, *samples, resamples=resamples, seed=seed)
    low, high = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=-1)
    return Interval(float(est), float(low), float(high), level)


def median_interval(samples: np.ndarray, *, level: float = LEVEL, resamples: int = RESAMPLES,
                    seed: int = 0) -> Interval:
    """The median over the unit axis with its percentile bootstrap interval."""
    return percentile_interval(lambda x: np.median(x, -1), samples, level=level,
                               resamples=resamples, seed=seed)


def median_paired_ratio(a: np.ndarray, b: np.ndarray, *, level: float = LEVEL,
                        resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """median(aᵢ / bᵢ) over paired units, percentile bootstrap interval; p-value NaN.

    Under infinite-variance noise a ratio of means is a ratio of two unstable averages (one
    dataset can carry most of a mean); the median of the per-unit ratios is the typical
    unit's ratio and converges whatever the tails."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired arms must have the same shape, got {a.shape} and {b.shape}")
    return median_interval(a / b, level=level, resamples=resamples, seed=seed)


def clustered_proportion(successes: np.ndarray, trials: np.ndarray,
                         level: float = LEVEL) -> Interval:
    """Σsᵢ/Σtᵢ over units (datasets, seeds) with a Wilson interval at the effective size.

    The trials within a unit are correlated (the inputs one lasso fit selects), so the pooled
    count overstates the information; the Wilson score interval is taken at n_eff = Σtᵢ/deff,
    deff = (the ratio estimator's between-unit variance) / (the binomial p(1 − p)/Σtᵢ), at least
    1 (Kish's design effect; Korn & Graubard 1998). It stays inside [0, 1], unlike
    estimate ± t·SE (a recall of 0.92 [0.65, 1.18]); with one trial per unit it is Wilson's."""
    s, t = np.asarray(successes, np.float64), np.asarray(trials, np.float64)
    keep = t > 0  # a unit with no trials (a fit that selected nothing: precision) says nothing
    s, t = s[keep], t[keep]
    m, total = len(t), t.sum()
    if m == 0:
        return Interval(math.nan, 0.0, 1.0, level)
    p = s.sum() / total
    binomial_var = p * (1 - p) / total
    # The plug-in (delta-method) variance of the ratio estimator: with one trial per unit it
    # is exactly p(1 − p)/m, so independent trials get deff = 1.
    cluster_var = ((s - p * t) ** 2).sum() / (m * t.mean()) ** 2
    deff = max(1.0, cluster_var / binomial_var) if binomial_var > 0 else 1.0
    return _wilson(p, total / deff, level)


def mcnemar_variance(correct_a: np.ndarray, correct_b: np.ndarray) -> np.ndarray:
    """Paired variance of acc_a − acc_b measured on the SAME n test examples (McNemar).

    correct_a, correct_b: (..., n) per-example correctness. With b = #(a right, b wrong) and
    c = #(a wrong, b right), the per-example differences z ∈ {−1, 0, 1} have mean (b − c)/n and
    Var(mean z) = [(b + c)/n − ((b − c)/n)²]/n: only the discordant examples add noise, so two
    models that err on the same examples have a much smaller variance than the unpaired sum
    p_a(1 − p_a)/n + p_b(1 − p_b)/n."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    n = a.shape[-1]
    only_a, only_b = (a & ~b).sum(-1), (~a & b).sum(-1)
    return ((only_a + only_b) / n - ((only_a - only_b) / n) ** 2) / n


def tost_p_value(estimate: float, se: float, df: float, margin: float) -> float:
    """Two one-sided tests (Schuirmann 1987) of |true difference| < margin on a t statistic:
    max(P(T > (estimate + margin)/se), P(T < (estimate − margin)/se)); below 1 − LEVEL the
    difference is shown to lie inside ±margin (equivalence)."""
    if se <= 0:
        return 0.0 if abs(estimate) < margin else 1.0
    return float(max(scipy.stats.t.sf((estimate + margin) / se, df),
                     scipy.stats.t.cdf((estimate - margin) / se, df)))


@dataclasses.dataclass(frozen=True)
class PairedAccuracyGap:
    """acc_a − acc_b over units (data splits × seeds), each unit with its own test split."""

    interval: Interval  # 95%, p_value against 0
    equivalence_p: float  # TOST p-value of |gap| < margin
    margin: float
    se: float
    mcnemar_se: float  # the test-sampling part alone: √(mean McNemar variance / units)


def paired_accuracy_gap(correct_a: np.ndarray, correct_b: np.ndarray, margin: float, *,
                        level: float = LEVEL, resamples: int = RESAMPLES,
                        seed: int = 0) -> PairedAccuracyGap:
    """Accuracy gap of two arms evaluated on the same test examples in each of U units.

    correct_a, correct_b: (U, n) per-example correctness, unit k = a data split (train /
    validation / test redrawn) with its own initialization seed. The units' gaps are resampled
    together (bootstrap-t, df U − 1). Because every unit has its own test split, the spread
    between units already contains the test set's sampling noise; McNemar's paired variance
    (`mcnemar_variance`, known exactly from the per-example correctness) is a floor on the
    standard error, so a small number of units whose gaps agree by chance cannot make the
    interval narrower than the test sets alone allow."""
    return paired_accuracy_contrast([correct_a], [correct_b], margin, level=level,
                                    resamples=resamples, seed=seed)


def paired_accuracy_contrast(plus: Sequence[np.ndarray], minus: Sequence[np.ndarray],
                             margin: float, *, level: float = LEVEL, resamples: int = RESAMPLES,
                             seed: int = 0) -> PairedAccuracyGap:
    """Σ acc(plus) − Σ acc(minus) over U units, every arm evaluated on the same test examples
    of a unit: a gap (one arm each side, `paired_accuracy_gap`) or a difference of gaps, e.g.
    (a at noise − a clean) − (b at noise − b clean).

    Each arm: (U, n) per-example correctness. Per example, z = Σ plus − Σ minus; the units'
    mean z are resampled together (bootstrap-t, df U − 1), and the per-example variance of z
    within each unit, Var(z)/n (for one arm each side exactly McNemar's variance), is a floor on
    the standard error."""
    z = (sum(np.asarray(c, np.float64) for c in plus)
         - sum(np.asarray(c, np.float64) for c in minus))
    est, reps, units = bootstrap_replicates(lambda x: x.mean(-1), z.mean(-1),
                                            resamples=resamples, seed=seed)
    floor_se = float(np.sqrt((z.var(-1) / z.shape[-1]).mean() / units))
    se = float(max(bootstrap_se(reps, units), floor_se))
    df = max(units - 1, 1)
    interval = _t_interval(np.float64(est), np.float64(se), df, level, 0.0)
    return PairedAccuracyGap(interval, tost_p_value(float(est), se, df, margin), margin, se,
                             floor_se)
