"""Check a config before any compute or any write, so a mistake costs seconds, not a lost night.

Every check of the engine lives here; experiments.plan runs them all before it expands the grid
(so before anything is compiled or written). Each raises `ConfigError` (a ValueError) with one
line naming the bad field, its value and, for names, the closest valid ones.

`check_fields(config, overridden)` checks every value a run can take: the config's own value of
each field and every value on each sweep axis (named `config.sweep.<path>` in the message, so the
offending axis is obvious), and refuses a command-line override of a swept field (the axis would
silently replace it). `check_groups(groups)` runs the cross-field checks once per group (one
compiled program) and loss (batch size vs the training set; steps, log_every, sharpness_every and
checkpoint_every; the loss's task vs the dataset's; the model's output vs the loss). The datasets
are loaded there (synthetic, digits and diabetes take milliseconds, mnist1d about a second), which
also rejects NaN or inf in them with the dataset's name.

Hostile values get the same one line: a seed outside the PRNG key's int32, a traced value beyond
float32, a value given twice on an axis (duplicate runs), a grid of more than config.max_runs
runs (`check_budget`: counted, never expanded, with its estimated memory and time), and synthetic
noise whose targets would overflow float32 (`_check_targets`, from the run's noise knobs).

`parse_flags` is absl's flag parser with one change: a bad `--config.<field>` override (a typo,
which ml_collections raises as a KeyError/AttributeError traceback, or a value of the wrong type,
which absl reports with exit status 1) exits with status 2 and one line.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import math
import re
import sys
from collections.abc import Callable, Collection
from typing import Any, NoReturn

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags
from ml_collections import config_dict

import losses
from experiments import data as data_lib
from experiments import grid, models, shipped_configs, training
from experiments.config_schema import EXECUTION_FIELDS, NUMERIC_FIELDS, base_config


class ConfigError(ValueError):
    """A config that can't run; the message names the field and the value."""


# Fields whose value is one of a fixed set of names: path -> () -> the valid names.
NAMED_FIELDS: dict[str, Callable[[], tuple[str, ...]]] = {
    "loss": lambda: tuple(losses.names()),
    "optimizer": lambda: training.OPTIMIZERS,
    "schedule": lambda: training.SCHEDULES,
    "penalty": lambda: training.PENALTIES,
    "penalty_mask": lambda: ("kernels", "all"),
    "l2_mode": lambda: training.L2_MODES,
    "model.name": lambda: models.MODELS,
    "model.activation": lambda: tuple(models.ACTIVATIONS),
    "dataset.name": lambda: data_lib.DATASETS,
    "dataset.noise": lambda: data_lib.NOISE_FAMILIES,
    "dataset.teacher": lambda: data_lib.TEACHERS,
    "dataset.label_noise_kind": lambda: data_lib.LABEL_NOISE_KINDS,
    "matmul_precision": lambda: ("default", "high", "highest"),
}

_KINDS = {"model.name": "model", "dataset.name": "dataset", "dataset.noise": "noise family"}

# Range of each numeric field: path -> (predicate on the value, the rule in words). A loss knob's
# range is the loss's own check (`_check_loss_knobs`), not repeated here.
_positive = (lambda v: v > 0, "> 0")
_nonnegative = (lambda v: v >= 0, ">= 0")
_at_least_one = (lambda v: v >= 1, ">= 1")
_unit_closed = (lambda v: 0 <= v <= 1, "in [0, 1]")
_unit_open = (lambda v: 0 < v < 1, "in (0, 1)")
_unit_half_open = (lambda v: 0 <= v < 1, "in [0, 1)")
_INT32_MAX, _UINT32_MAX = 2**31 - 1, 2**32 - 1
# A run's seed becomes a traced int32 (jax.random.key); numpy's and sklearn's seeds are uint32.
_prng_seed = (lambda v: 0 <= v <= _INT32_MAX, f"in [0, {_INT32_MAX}] (the PRNG key's int32)")
_numpy_seed = (lambda v: 0 <= v <= _UINT32_MAX, f"in [0, {_UINT32_MAX}]")
_F32_MAX = float(np.finfo(np.float32).max)
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": _prng_seed,
    "dataset.data_seed": _numpy_seed,
    "dataset.split_seed": _numpy_seed,
    "dataset.validation_seed": _numpy_seed,
    "max_runs": _at_least_one,
    "cpu_devices": _nonnegative,
    "xla_optimization_level": (lambda v: v in (0, 1, 2, 3), "one of 0, 1, 2, 3"),
    "learning_rate": _nonnegative,
    "penalty_strength": _nonnegative,
    "momentum": _nonnegative,
    "l1_ratio": _unit_closed,
    "b1": _unit_half_open,
    "b2": _unit_half_open,
    "eps": _nonnegative,
    "warmup_steps": _nonnegative,
    "steps": _positive,
    "batch_size": _nonnegative,
    "log_every": _positive,
    "diverge_threshold": _positive,
    "chunk_size": _at_least_one,
    "num_shards": _at_least_one,
    "checkpoint_every": _nonnegative,
    "dataset.n_train": _at_least_one,
    "dataset.n_test": _at_least_one,
    "dataset.dim": _at_least_one,
    "dataset.noise_scale": _nonnegative,
    "dataset.df": _positive,
    "dataset.contamination": _unit_closed,
    "dataset.outlier_scale": _nonnegative,
    "dataset.test_fraction": _unit_open,
    "dataset.label_noise": _unit_half_open,
    "dataset.num_samples": (lambda v: v >= 10, ">= 10"),
    "dataset.num_classes": (lambda v: 2 <= v <= data_lib.MAX_TEACHER_CLASSES,
                            f"in [2, {data_lib.MAX_TEACHER_CLASSES}]"),
    "model.dense_width": _at_least_one,
}
# Integer fields never traced as int32: numpy's uint32 seeds, and the grid budget (a Python int).
_WIDE_INTEGERS = ("dataset.data_seed", "dataset.split_seed", "dataset.validation_seed",
                  "max_runs")
# Numeric fields where ±inf is a meaningful value (Barron's α → -inf; no divergence threshold).
INFINITE_OK = ("loss_knobs.alpha", "diverge_threshold")


def check_fields(config: config_dict.ConfigDict, overridden: Collection[str] = ()) -> None:
    """Raise ConfigError naming the bad field and value: every value of every field, one by one.

    `overridden` names the fields set on the command line: one that is also a sweep axis would
    be ignored (the axis sets it), so it is refused with the one-value-axis form to use instead.
    """
    axes = _sweep_axes(config)
    schema = grid.flatten(base_config())
    fields = grid.flatten(config)
    for path in overridden:
        if path in axes:
            value = fields[path]
            raise ConfigError(
                f"config.{path}={value!r} is ignored: config.sweep.{path}={axes[path]!r} sets it;"
                f" for one value give a one-value axis: --config.sweep.{path}=\"({value!r},)\""
            )
    for path, base in fields.items():
        if path.split(".")[0] == "sweep":
            continue
        if path in axes:
            if axes[path] == (None,):
                raise ConfigError(
                    f"config.sweep.{path}=(None,): the command line turns None into (None,); to "
                    f"fix {path}, give a one-value axis: --config.sweep.{path}=\"({base!r},)\""
                )
            _check_distinct(path, axes[path])
            for value in axes[path]:
                _check_field(f"config.sweep.{path}", path, value, schema.get(path, base))
        else:
            _check_field(f"config.{path}", path, base, schema.get(path, base))
    shard, num_shards = int(config.shard), int(config.num_shards)
    if not 0 <= shard < num_shards:
        raise ConfigError(f"config.shard={shard} must be in [0, config.num_shards={num_shards})")
    check_budget(config, axes)
    _check_loss_knobs(config, axes)


def _check_distinct(path: str, values: tuple) -> None:
    """A value given twice on an axis would run (and name) the same runs twice."""
    seen: set = set()
    for value in values:
        key = grid._key(value)  # equal values, equal (hashable) keys
        if key in seen:
            shown = repr(values) if len(values) <= 10 else f"(... {len(values)} values)"
            raise ConfigError(
                f"config.sweep.{path}={shown} repeats the value {value!r}: its runs would appear "
                "twice under one name; give each value once"
            )
        seen.add(key)


# The estimate of check_budget: a run's rows in memory (runs table, curves, grid bookkeeping)
# and the time of one run-step, ~6 us: issue #13's figure for configs/default.py on 2 CPU cores
# (10^6 runs of 1,000 steps in ~1.7 h), not a measurement of this code.
_CURVE_ROW_BYTES = 12 * 8  # ~12 numeric columns per logged step
_RUN_BYTES = 4096
_SECONDS_PER_RUN_STEP = 6e-6


def _amount(value: float, *units) -> str:
    """`value` in the largest of the (size, name) units it reaches, e.g. 16.4 GB or 40 min."""
    sizes, names = units[::2], units[1::2]
    i = max([0] + [i for i, size in enumerate(sizes) if value >= size])
    return f"{value / sizes[i]:.3g} {names[i]}"


def estimate(config: config_dict.ConfigDict, runs: int) -> str:
    """The size of a grid's tables and its training time, e.g. "an estimated 16.4 GB of ..."."""
    logged = int(config.steps) // max(1, int(config.log_every)) + 1
    size = runs * (logged * _CURVE_ROW_BYTES + _RUN_BYTES)
    seconds = runs * int(config.steps) * _SECONDS_PER_RUN_STEP
    return (f"an estimated {_amount(size, 1e6, 'MB', 1e9, 'GB')} of tables and "
            f"{_amount(seconds, 1, 's', 60, 'min', 3600, 'h')} of training at ~6 us per run-step "
            "on 2 CPU cores")


def check_budget(config: config_dict.ConfigDict, axes: dict[str, tuple]) -> None:
    """Refuse a grid of more than config.max_runs runs, counted from the axes (never expanded)."""
    runs = math.prod(len(v) for v in axes.values())
    limit = int(config.max_runs)
    if runs <= limit:
        return
    shape = " x ".join(f"{path} {len(v)}" for path, v in axes.items())
    raise ConfigError(
        f"the grid has {runs:,} runs ({shape}), more than config.max_runs={limit:,}: "
        f"{estimate(config, runs)}; shrink an axis, or raise --config.max_runs for a deliberate "
        "huge sweep"
    )


def _sweep_axes(config: config_dict.ConfigDict) -> dict[str, tuple]:
    try:
        axes = dict(grid.sweep_axes(config))
    except ValueError as e:
        if str(e).startswith("sweep."):
            raise ConfigError(f"config.{e} ({axis_syntax(str(e).split()[0][6:])})") from None
        raise ConfigError(str(e)) from None
    for path in axes:
        if path.split(".")[0] in EXECUTION_FIELDS:
            raise ConfigError(
                f"config.sweep.{path}: '{path}' says how the sweep is executed, not what a run "
                "computes, so it can't be a sweep axis"
            )
    return axes


def _closest(value: object, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(value), valid, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Valid: {', '.join(valid)}"


_NUMBER = int | float | np.integer | np.floating
# The schema default's type -> the types a value may have, and their name in the message. In
# this order: a bool is an int, and only a bool default takes a bool.
_TYPES = ((bool, bool | np.bool_, "bool"), (int, int | np.integer, "int"),
          (float, _NUMBER, "a number"), (str, str, "str"))


def _check_type(name: str, value: Any, default: Any) -> None:
    """`value` must have the type of the schema's default (an int is fine where a float is)."""
    if isinstance(default, tuple | list):
        if not isinstance(value, tuple | list) or not all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1 for v in value
        ):
            raise ConfigError(f"{name}={value!r} must be a tuple of positive ints")
        return
    for kind, accepted, expected in _TYPES:
        if isinstance(default, kind):
            if not isinstance(value, accepted) or (kind is not bool and isinstance(value, bool)):
                raise ConfigError(
                    f"{name}={value!r} has type {type(value).__name__}, expected {expected}"
                )
            return


def _check_field(name: str, path: str, value: Any, default: Any) -> None:
    """Type, name and range of one value of one field; `name` is how the message refers to it."""
    if path == "imports":  # module names (config_schema.import_modules imported them already)
        if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}={value!r} must be a tuple of module names")
        return
    _check_type(name, value, default)
    if path in NAMED_FIELDS:
        valid = NAMED_FIELDS[path]()
        if value not in valid:
            kind = _KINDS.get(path, path.split(".")[-1])
            syntax = f" ({axis_syntax(path)})" if name.startswith("config.sweep.") else ""
            raise ConfigError(f"{name}: unknown {kind} {value!r}{_closest(value, valid)}{syntax}")
        return
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return
    if math.isnan(value) or (math.isinf(value) and path not in INFINITE_OK):
        raise ConfigError(f"{name}={value!r} must be a finite number")
    if path in NUMERIC_FIELDS and math.isfinite(value) and abs(value) > _F32_MAX:
        raise ConfigError(f"{name}={value!r} is beyond float32's range (|value| <= "
                          f"{_F32_MAX:.3g}), the precision a run computes in")
    if path in RANGES:
        ok, rule = RANGES[path]
        if not ok(value):
            raise ConfigError(f"{name}={value!r} must be {rule}")
    if (isinstance(value, int | np.integer) and path not in _WIDE_INTEGERS
            and abs(value) > _INT32_MAX):
        raise ConfigError(f"{name}={value!r} is beyond int32's range (|value| <= {_INT32_MAX}), "
                          "the integers a run computes with (step counters, indices)")


# (predictions, targets) shapes to call a loss on: regression, class indices, dense labels.
_PROBES = (
    (jax.ShapeDtypeStruct((4,), jnp.float32), jax.ShapeDtypeStruct((4,), jnp.float32)),
    (jax.ShapeDtypeStruct((4, 3), jnp.float32), jax.ShapeDtypeStruct((4,), jnp.int32)),
    (jax.ShapeDtypeStruct((4, 3), jnp.float32), jax.ShapeDtypeStruct((4, 3), jnp.float32)),
)


def _call_abstractly(loss: str, knobs: dict[str, Any], probe) -> None:
    fn = losses.get(loss, **knobs)
    jax.eval_shape(lambda p, t: fn(p, t), *probe)


def _check_loss_knobs(config: config_dict.ConfigDict, axes: dict[str, tuple]) -> None:
    """The losses library checks each knob value of each loss that takes it (robust_nll: α >= 0).

    The loss is called abstractly on inputs it accepts with the schema's default knobs, so a
    ValueError with one knob changed is that knob's fault.
    """
    for loss in axes.get("loss", (config.loss,)):
        default_knobs = losses.knobs(loss)
        for probe in _PROBES:  # the first shapes the loss takes
            with contextlib.suppress(Exception):  # raises: not the shapes this loss takes
                _call_abstractly(loss, default_knobs, probe)
                break
        else:
            continue  # none: its shapes are checked against the model's output below
        for knob in default_knobs:
            path = f"loss_knobs.{knob}"
            name = f"config.sweep.{path}" if path in axes else f"config.{path}"
            for value in axes.get(path, (config.loss_knobs[knob],)):
                try:
                    _call_abstractly(loss, dict(default_knobs, **{knob: value}), probe)
                except (ValueError, TypeError) as e:
                    raise ConfigError(
                        f"{name}={value!r} is invalid for loss {loss!r}: {_one_line(e)}"
                    ) from None


def check_groups(config, groups) -> dict[tuple, data_lib.Dataset]:
    """Cross-field checks, once per group (grid.Group: one compiled group) and loss it serves.

    Returns the datasets it loaded (which also rejects NaN or inf in them), by dataset key.
    """
    datasets: dict[tuple, data_lib.Dataset] = {}
    for group in groups:
        c = group.config
        structural = [(p, v) for p, v in group.runs[0].swept if p not in NUMERIC_FIELDS]
        key = group.dataset_key
        if key not in datasets:
            try:
                datasets[key] = data_lib.load(c.dataset)
            except ValueError as e:
                raise ConfigError(
                    f"config.dataset.name={c.dataset.name!r}{_where(structural)}: {e}"
                ) from None
        for loss in group.losses:
            where = _where([(p, loss if p == "loss" else v) for p, v in structural])
            _check_run(c, loss, datasets[key], where)
        # The noise is the same for every loss of a (fused) group, and its message names the
        # family: name the rest only.
        rest = [x for x in structural if x[0] not in ("loss", "dataset.noise")]
        _check_targets(group, datasets[key], _where(rest), grid.flatten(config))
    return datasets


# Largest |draw| of each noise family's standard float32 sampler (jax.random): a normal (an
# erfinv of a float32 uniform) stays below 6, a unit-variance Laplace (a log of one) below 17/√2.
# A Student-t draw is a normal over a chi, at least as wide: 6 is its floor, so the estimate
# below never refuses a config that stays finite.
# Exponential: −log of a float32 uniform, below 17; lognormal: exp(6σ) standardized (data.py);
# one_sided: a normal plus the shift, widened below.
_TAIL = {"gaussian": 6.0, "contaminated": 6.0, "heteroscedastic": 6.0, "student_t": 6.0,
         "laplace": 17.0 / math.sqrt(2.0), "exponential": 17.0, "one_sided": 6.0,
         "lognormal": math.exp(6.0 * data_lib.LOGNORMAL_SIGMA) / data_lib._LOGNORMAL_STD}
_NOISE_KNOBS = {"contaminated": ("dataset.noise_scale", "dataset.outlier_scale"),
                "one_sided": ("dataset.noise_scale", "dataset.outlier_scale")}


def _check_targets(program, dataset: data_lib.Dataset, where: str, fields: dict) -> None:
    """Synthetic targets f + noise of every run must stay finite in float32, squares included.

    The reach of a run's targets is max|f| + (its noise's largest multiple of a standard draw) ×
    (the family's largest standard draw); the squared errors and MSE sum n of their squares, so
    the reach must stay below sqrt(float32 max / n). Each noise family a (fused) program draws
    is checked on the runs that draw it.
    """
    if dataset.f_train is None:
        return
    index = np.asarray(program.hyper.get(grid.NOISE_INDEX, np.zeros(len(program.runs), int)))
    for i, family in enumerate(program.noises):
        members = np.flatnonzero(index == i)
        hyper = {k: np.asarray(v, np.float64)[members] for k, v in program.hyper.items()}
        _check_family_targets(program, dataset, family, members, hyper, where, fields)


def _check_family_targets(program, dataset, family, members, hyper, where: str,
                          fields: dict) -> None:
    """`fields`: the sweep config's (a value not swept is named as the config holds it)."""
    knobs = _NOISE_KNOBS.get(family, ("dataset.noise_scale",))
    multiple = hyper["dataset.noise_scale"] * _TAIL[family]
    if family == "contaminated":
        multiple = multiple * np.maximum(hyper["dataset.outlier_scale"], 1.0)
    if family == "one_sided":
        multiple = multiple + hyper["dataset.noise_scale"] * np.abs(hyper["dataset.outlier_scale"])
    f = [dataset.f_train, dataset.f_test]
    if family == "heteroscedastic":
        first = max(float(np.abs(x.reshape(len(x), -1)[:, 0]).max())
                    for x in (dataset.x_train, dataset.x_test))
        multiple = multiple * (0.5 + first) / data_lib._HETERO_RMS
    reach = max(float(np.abs(a).max()) for a in f) + multiple
    n = max(len(a) for a in f)
    limit = math.sqrt(_F32_MAX / n)
    bad = np.flatnonzero(~(reach <= limit))
    if not bad.size:
        return
    swept = dict(program.runs[members[bad[0]]].swept)
    values = {k: swept.get(k, fields[k]) for k in knobs}
    named = {k: f"config.sweep.{k}" if k in swept else f"config.{k}" for k in knobs}
    primary = max(knobs, key=lambda k: abs(values[k]))
    others = ", ".join(f"{named[k]}={values[k]!r}" for k in knobs if k != primary)
    raise ConfigError(
        f"{named[primary]}={values[primary]!r} (noise {family!r}"
        f"{', ' + others if others else ''}){where}: synthetic targets reach ~{reach[bad[0]]:.2g}, "
        f"and their squares summed over {n} examples overflow float32 (|y| must stay below "
        f"{limit:.2g}); lower it"
    )


def _where(swept: list[tuple[str, Any]]) -> str:
    return "" if not swept else " (with " + ", ".join(f"{p}={v!r}" for p, v in swept) + ")"


def _check_density(c: config_dict.ConfigDict, where: str) -> None:
    """The SLQ density's knobs (experiments.spectrum.broadened_density)."""
    if c.spectrum_density and not int(c.spectrum_every):
        raise ConfigError(
            f"config.spectrum_density={c.spectrum_density} needs config.spectrum_every > 0{where}"
        )
    if int(c.density_grid) < 2:
        raise ConfigError(f"config.density_grid={c.density_grid} must be at least 2{where}")
    sigma = float(c.density_sigma)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ConfigError(f"config.density_sigma={c.density_sigma} must be positive{where}")


def _check_periods(c: config_dict.ConfigDict, where: str) -> None:
    """steps, log_every, sharpness_every, spectrum_every (and its knobs) and checkpoint_every
    fit into each other."""
    steps, log_every = int(c.steps), int(c.log_every)
    if steps % log_every:
        raise ConfigError(f"config.log_every={log_every} must divide config.steps={steps}{where}")
    for name in ("sharpness_every", "spectrum_every"):
        every = int(c[name])
        if every < 0 or (every and (every % log_every or steps % every)):
            raise ConfigError(
                f"config.{name}={every} must be 0 (off) or a multiple of "
                f"config.log_every={log_every} that divides config.steps={steps}{where}"
            )
    sharpness_every = int(c.sharpness_every)
    for name in ("spectrum_k", "lanczos_steps", "hutchinson_probes", "density_probes"):
        if int(c[name]) < 1:
            raise ConfigError(f"config.{name}={c[name]} must be at least 1{where}")
    if int(c.spectrum_k) > int(c.lanczos_steps):
        raise ConfigError(
            f"config.spectrum_k={c.spectrum_k} must not exceed "
            f"config.lanczos_steps={c.lanczos_steps}{where}"
        )
    _check_density(c, where)
    if sharpness_every and not c.diagnostics:
        raise ConfigError(
            f"config.sharpness_every={sharpness_every} needs config.diagnostics=True{where}"
        )
    every = int(c.checkpoint_every)
    if every and (every % log_every or steps % every):
        raise ConfigError(
            f"config.checkpoint_every={every} must be a multiple of config.log_every={log_every} "
            f"that divides config.steps={steps}{where}"
        )


def _check_run(
    c: config_dict.ConfigDict, loss: str, dataset: data_lib.Dataset, where: str
) -> None:
    _check_periods(c, where)
    n_train = dataset.x_train.shape[0]
    if c.batch_size > n_train:
        raise ConfigError(
            f"config.batch_size={c.batch_size} exceeds the {n_train} training examples of dataset "
            f"{dataset.name!r}{where} (0 = full batch)"
        )
    if training.is_decoupled(c) and c.penalty not in ("l2", "none"):
        raise ConfigError(
            f"config.penalty={c.penalty!r} has no decoupled form{where}: decoupled weight decay "
            f"(l2_mode={c.l2_mode!r}, optimizer={c.optimizer!r}) is the L2 penalty's counterpart"
        )
    task = losses.task(loss)
    if task != dataset.task:
        raise ConfigError(
            f"config.loss={loss!r} is a {task} loss but dataset {dataset.name!r} is a "
            f"{dataset.task} dataset{where}"
        )
    num_outputs = dataset.num_classes if task == "classification" else 1
    x = jax.ShapeDtypeStruct((2, *dataset.input_shape), jnp.float32)
    try:
        model = models.build(c.model, num_outputs)
        params = jax.eval_shape(model.init, jax.random.key(0), x)
        out = jax.eval_shape(model.apply, params, x)
    except Exception as e:  # any failure to build the model on these inputs
        raise ConfigError(
            f"config.model.name={c.model.name!r} does not fit dataset {dataset.name!r} inputs of "
            f"shape {dataset.input_shape}{where}: {_one_line(e)}"
        ) from None
    pred_shape = out.shape[:-1] if task == "regression" else out.shape
    target = jax.ShapeDtypeStruct((2,), jnp.asarray(dataset.y_train).dtype)
    # A real-valued knob is per run (not in the group's config): any value fits the shapes.
    knobs = {k: c.loss_knobs[k] if k in c.loss_knobs else default
             for k, default in losses.knobs(loss).items()}
    try:
        fn = losses.get(loss, **knobs)
        jax.eval_shape(lambda p, t: losses.reduce(fn(p, t)),
                       jax.ShapeDtypeStruct(pred_shape, out.dtype), target)
    except Exception as e:  # a shape/dtype mismatch between model and loss
        raise ConfigError(
            f"config.loss={loss!r} does not fit the model's output shape {pred_shape} and the "
            f"{target.dtype} targets of shape {target.shape} of dataset {dataset.name!r}{where}: "
            f"{_one_line(e)}"
        ) from None


def _one_line(e: BaseException) -> str:
    while len(e.args) == 1 and isinstance(e.args[0], BaseException):
        e = e.args[0]  # ml_collections wraps a KeyError in an AttributeError
    text = str(e.args[0]) if len(e.args) == 1 else str(e)
    return " ".join(text.split())


# The config file `python -m experiments.sweep` runs without --config.
DEFAULT_CONFIG_FILE = str(shipped_configs.path("default.py"))
_CONFIG_FLAG = re.compile(r"^--?config(=|$)")


def _refuse_flags(message: str) -> NoReturn:
    print(f"FATAL Flags parsing error: {message}", file=sys.stderr)
    sys.exit(2)


# absl's help flags, which exit with status 1 after absl's usage text.
_HELP_FLAGS = ("-h", "-?", "-help", "--help", "-helpshort", "--helpshort", "-helpfull",
               "--helpfull")
_FIELDS_HELP = """\
Config fields: every field of experiments/config_schema.py is set with
--config.<field>=<value> (e.g. --config.learning_rate=3e-3); --config.sweep.<field>='(a,b)'
(or a,b) makes it a sweep axis. --config_fields lists every field with its default and meaning;
--dry_run prints the plan (groups, chunks, runs, estimated time) without training or writing."""


def print_help_and_exit(argv0: str) -> NoReturn:
    """The main module's usage, its flags and where the config fields are; exit status 0."""
    main = sys.modules.get("__main__")
    # The module's USAGE, else its docstring's first paragraph (the rest is for developers).
    usage = getattr(main, "USAGE", None) or (getattr(main, "__doc__", None) or "").split("\n\n")[0]
    print(usage.strip() or f"usage: {argv0} [flags]")
    own = flags.FLAGS.flags_by_module_dict().get(sys.argv[0], [])  # absl: __main__'s flags
    if any(flag.name == "config" for flag in own):  # the sweep's, not reproduce's
        print(f"\n{_FIELDS_HELP}")
    if own:
        print("\nFlags:")
        for flag in own:
            print(f"  --{flag.name}: {' '.join(str(flag.help).split())}")
    sys.exit(0)


def axis_syntax(path: str) -> str:
    """How an axis is written on the command line (shown in the errors about one)."""
    return (f"an axis is written --config.sweep.{path}='(a,b)', a,b or \"('a','b')\"; "
            "numbers as (0.1,1.0)")


_AXIS_FLAG = re.compile(r"^(--?config\.sweep\.[\w.]+)=(.*)$", re.DOTALL)


def _axis_literal(text: str) -> str:
    """An axis value as the Python literal ml_collections parses: "(huber,cauchy)" and
    "huber,cauchy" become "('huber', 'cauchy')", "huber" a one-value axis; a value that is
    already a literal ("('huber','cauchy')", "(0.1,1.0)", "None") is kept as it is."""
    with contextlib.suppress(ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        ast.literal_eval(text)
        return text
    inner = text.strip()
    if inner[:1] in "([" and inner[-1:] in ")]":
        inner = inner[1:-1]
    values = []
    for item in (item.strip() for item in inner.split(",")):
        if not item:
            continue
        try:
            values.append(ast.literal_eval(item))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            values.append(item.strip("'\""))  # a bare name
    return repr(tuple(values))


def _with_axis_literals(argv: list[str]) -> list[str]:
    """`argv` with each `--config.sweep.<path>=<value>` written as a Python literal."""
    out = []
    for arg in argv:
        match = _AXIS_FLAG.match(arg)
        out.append(f"{match.group(1)}={_axis_literal(match.group(2))}" if match else arg)
    return out


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parser; a bad `--config` file or `--config.<field>` override exits 2 with one line.

    `--help` prints the usage and where the config fields are, and exits 0 (absl's exits 1).

    The config flag is defined without a default (experiments.sweep): ml_collections would parse
    a default, with the command line's overrides, when the module is imported, where a typo is
    a traceback. Without `--config`, `--config=DEFAULT_CONFIG_FILE` is put first here, so the
    default is loaded like any other file, inside this parser's error handling.
    """
    if any(arg in _HELP_FLAGS for arg in argv[1:]):
        print_help_and_exit(argv[0])
    argv = [argv[0], *_with_axis_literals(argv[1:])]  # (huber,cauchy) and huber,cauchy too
    config_file = _config_file(argv)
    if "config" in flags.FLAGS and config_file is None:
        config_file = DEFAULT_CONFIG_FILE
        argv = [argv[0], f"--config={config_file}", *argv[1:]]
    try:
        rest = flags.FLAGS(argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        # e.g. --config.steps=abc (absl names the flag and the value), a typo in a field name
        text = str(e.args[0]) if len(e.args) == 1 else str(e)
        if "Error whilst parsing config file" in text:  # get_config raised: ml_collections
            _refuse_flags(f"--config={config_file}: {text.strip().splitlines()[-1]}")  # traceback
        unknown = "no such config field: " if isinstance(e, AttributeError | KeyError) else ""
        _refuse_flags(f"{unknown}{_one_line(e)}")
    except Exception as e:  # loading the config file: a SyntaxError, ...
        _refuse_flags(f"--config={config_file}: {type(e).__name__}: {_one_line(e)}")
    config = flags.FLAGS.config if "config" in flags.FLAGS else config_dict.ConfigDict()
    if not isinstance(config, config_dict.ConfigDict):
        # ml_collections defers a file it could not read (an _ErrorConfig holding the error).
        error = getattr(config, "__dict__", {}).get("_error")
        _refuse_flags(f"--config={config_file}: " + (
            f"{type(error).__name__}: {_one_line(error)}" if error is not None else
            f"get_config() returned a {type(config).__name__}, expected an ml_collections "
            "ConfigDict"))
    return rest


def _config_file(argv: list[str]) -> str | None:
    """The --config file named in `argv` (None when it names none)."""
    for i, arg in enumerate(argv[1:], 1):
        if _CONFIG_FLAG.match(arg):
            if "=" in arg:
                return arg.partition("=")[2]
            return argv[i + 1] if i + 1 < len(argv) else ""
    return None
