"""Losses by name, with their knobs: what a config refers to as `loss = "huber"`."""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable
from typing import Any

import jax

from losses import classification, regression, robust


@dataclasses.dataclass(frozen=True)
class _Entry:
    fn: Callable[..., jax.Array]
    task: str  # "regression" or "classification"
    knobs: dict[str, Any]  # knob name -> default value


_REGISTRY: dict[str, _Entry] = {
    "squared_error": _Entry(regression.squared_error, "regression", {}),
    "absolute_error": _Entry(regression.absolute_error, "regression", {}),
    "huber": _Entry(regression.huber, "regression", {"delta": 1.0}),
    "smooth_l1": _Entry(regression.smooth_l1, "regression", {"beta": 1.0}),
    "pseudo_huber": _Entry(regression.pseudo_huber, "regression", {"delta": 1.0}),
    "log_cosh": _Entry(regression.log_cosh, "regression", {}),
    "quantile": _Entry(regression.quantile, "regression", {"tau": 0.5}),
    # α has no default in the functions (it *is* the choice of loss); 1.0 is pseudo-Huber.
    "general_robust": _Entry(robust.general_robust, "regression", {"alpha": 1.0, "scale": 1.0}),
    "robust_nll": _Entry(robust.robust_nll, "regression", {"alpha": 1.0, "scale": 1.0}),
    "cauchy": _Entry(robust.cauchy, "regression", {"scale": 1.0}),
    "geman_mcclure": _Entry(robust.geman_mcclure, "regression", {"scale": 1.0}),
    "welsch": _Entry(robust.welsch, "regression", {"scale": 1.0}),
    "softmax_cross_entropy": _Entry(
        classification.softmax_cross_entropy, "classification", {"label_smoothing": 0.0}
    ),
    "sigmoid_binary_cross_entropy": _Entry(
        classification.sigmoid_binary_cross_entropy, "classification", {}
    ),
    "multi_margin": _Entry(classification.multi_margin, "classification", {"margin": 1.0, "p": 1}),
    "focal": _Entry(classification.focal, "classification", {"gamma": 2.0}),
    "one_hot_squared_error": _Entry(
        classification.one_hot_squared_error, "classification", {"k": 1.0, "m": 1.0}
    ),
}


def _entry(name: str) -> _Entry:
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(str(name), names(), n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise ValueError(f"unknown loss {name!r}{hint} (valid: {', '.join(names())})")


def names() -> tuple[str, ...]:
    """The registered loss names, sorted."""
    return tuple(sorted(_REGISTRY))


def knobs(name: str) -> dict[str, Any]:
    """The loss's knobs and their defaults, e.g. knobs("huber") == {"delta": 1.0}."""
    return dict(_entry(name).knobs)


def task(name: str) -> str:
    """ "regression" (predictions, targets) or "classification" (logits, labels)."""
    return _entry(name).task


def get(name: str, **knob_values: Any) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The loss `name` with its knobs bound: a callable (predictions, targets) -> values.

    Knobs not given take their defaults (`knobs(name)`); knob values may be tracers (a knob
    swept with vmap inside one compiled program). A concrete invalid value raises ValueError
    when the loss is called; an unknown knob raises here.
    """
    entry = _entry(name)
    unknown = sorted(set(knob_values) - set(entry.knobs))
    if unknown:
        valid = ", ".join(entry.knobs) or "none"
        raise ValueError(f"unknown knob(s) {', '.join(unknown)} for loss {name!r} (valid: {valid})")
    return functools.partial(entry.fn, **{**entry.knobs, **knob_values})
