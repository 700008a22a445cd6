"""Losses by name, with their knobs: what a config refers to as `loss = "huber"`.

Every loss has one canonical name (what tables and configs record); common names from other
libraries (`mse`, `l1`, `bce`, `ce`, ...) are aliases resolving to it (`canonical`). Knobs are
the numeric arguments a sweep may vary; other options (`where`, `weight`, `ignore_index`,
`axis`, sigmoid_focal's `alpha`, ...) are passed to the functions directly.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable
from typing import Any

import jax

from losses import (
    _checks,
    classification,
    likelihood,
    noise_robust,
    regression,
    representation,
    robust,
)

# `losses.fenchel_young` is also the function's name in the package: import from the module.
from losses.fenchel_young import sparsemax_loss


@dataclasses.dataclass(frozen=True)
class _Entry:
    fn: Callable[..., jax.Array]
    task: str  # "regression", "classification" or "representation" (embeddings; see there)
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
    "squentropy": _Entry(classification.squentropy, "classification", {}),
    "multiclass_hinge": _Entry(classification.multiclass_hinge, "classification", {"margin": 1.0}),
    "sigmoid_focal": _Entry(classification.sigmoid_focal, "classification", {"gamma": 2.0}),
    "hinge": _Entry(classification.hinge, "classification", {"margin": 1.0}),
    "perceptron": _Entry(classification.perceptron, "classification", {}),
    "kl_divergence": _Entry(classification.kl_divergence, "classification", {}),
    "gaussian_nll": _Entry(likelihood.gaussian_nll, "regression", {"variance": 1.0}),
    "laplace_nll": _Entry(likelihood.laplace_nll, "regression", {"scale": 1.0}),
    "student_t_nll": _Entry(likelihood.student_t_nll, "regression", {"scale": 1.0, "nu": 3.0}),
    "poisson_nll": _Entry(likelihood.poisson_nll, "regression", {}),
    "cosine_distance": _Entry(regression.cosine_distance, "regression", {}),
    # issue 32: the peers' remaining catalogue
    "sparsemax_loss": _Entry(sparsemax_loss, "classification", {}),
    "nll_loss": _Entry(classification.nll_loss, "classification", {}),
    "poly_loss_cross_entropy": _Entry(
        classification.poly_loss_cross_entropy, "classification", {"epsilon": 2.0}
    ),
    "bi_tempered_logistic": _Entry(
        classification.bi_tempered_logistic, "classification",
        {"t1": 0.8, "t2": 1.2, "label_smoothing": 0.0},
    ),
    "generalized_kl_divergence": _Entry(
        classification.generalized_kl_divergence, "classification", {}
    ),
    "dice": _Entry(classification.dice, "classification", {"smooth": 1.0}),
    # issue 31: losses robust to label noise (alpha shares general_robust's knob and default)
    "generalized_cross_entropy": _Entry(
        noise_robust.generalized_cross_entropy, "classification", {"q": 0.7}
    ),
    "symmetric_cross_entropy": _Entry(
        noise_robust.symmetric_cross_entropy, "classification",
        {"alpha": 1.0, "beta": 1.0, "log_zero": -4.0},
    ),
    "mae_probabilities": _Entry(noise_robust.mae_probabilities, "classification", {}),
    "mean_squared_log_error": _Entry(regression.mean_squared_log_error, "regression", {}),
    "mean_absolute_percentage_error": _Entry(
        regression.mean_absolute_percentage_error, "regression", {}
    ),
    # Embeddings, not (predictions, targets): ntxent(embeddings, labels) couples a batch's
    # examples; triplet_margin(anchors, positives, negatives). No dataset has this task.
    "ntxent": _Entry(representation.ntxent, "representation", {"temperature": 0.07}),
    "triplet_margin": _Entry(representation.triplet_margin, "representation", {"margin": 1.0}),
}

# The losses shipped here (`register` refuses to replace them).
_BUILTINS = frozenset(_REGISTRY)

# Other libraries' names -> canonical name. Conventions differ under some of them: `l2` here is
# squared_error, r² (optax's l2_loss is ½r²); `nll` is torch's NLLLoss on log_softmax, i.e.
# cross-entropy on logits.
ALIASES: dict[str, str] = {
    "mse": "squared_error",
    "l2": "squared_error",
    "mean_squared_error": "squared_error",
    "mae": "absolute_error",
    "l1": "absolute_error",
    "mean_absolute_error": "absolute_error",
    "huber_loss": "huber",
    "smooth_l1_loss": "smooth_l1",
    "charbonnier": "pseudo_huber",
    "logcosh": "log_cosh",
    "pinball": "quantile",
    "barron": "general_robust",
    "adaptive": "robust_nll",
    "lorentzian": "cauchy",
    "leclerc": "welsch",
    "ce": "softmax_cross_entropy",
    "cross_entropy": "softmax_cross_entropy",
    "categorical_crossentropy": "softmax_cross_entropy",
    "nll": "softmax_cross_entropy",
    "bce": "sigmoid_binary_cross_entropy",
    "binary_cross_entropy": "sigmoid_binary_cross_entropy",
    "binary_crossentropy": "sigmoid_binary_cross_entropy",
    "focal_loss": "focal",
    "sigmoid_focal_loss": "sigmoid_focal",
    "multi_margin_loss": "multi_margin",
    "weston_watkins": "multi_margin",
    "crammer_singer": "multiclass_hinge",
    "multiclass_hinge_loss": "multiclass_hinge",
    "hinge_loss": "hinge",
    "perceptron_loss": "perceptron",
    "kl": "kl_divergence",
    "kld": "kl_divergence",
    "kl_div": "kl_divergence",
    "gaussian_nll_loss": "gaussian_nll",
    "laplace": "laplace_nll",
    "student_t": "student_t_nll",
    "poisson": "poisson_nll",
    "poisson_nll_loss": "poisson_nll",
    "cosine": "cosine_distance",
    "multiclass_sparsemax_loss": "sparsemax_loss",
    "poly_loss": "poly_loss_cross_entropy",
    "poly1": "poly_loss_cross_entropy",
    "bi_tempered": "bi_tempered_logistic",
    "bi_tempered_logistic_loss": "bi_tempered_logistic",
    "bi_tempered_cross_entropy": "bi_tempered_logistic",
    "convex_kl_divergence": "generalized_kl_divergence",
    "dice_loss": "dice",
    "msle": "mean_squared_log_error",
    "mean_squared_logarithmic_error": "mean_squared_log_error",
    "mape": "mean_absolute_percentage_error",
    "nt_xent": "ntxent",
    "infonce": "ntxent",
    "info_nce": "ntxent",
    "triplet_margin_loss": "triplet_margin",
    "triplet": "triplet_margin",
    # torch.nn.functional's and optax's own names, same values (README's catalogue)
    "mse_loss": "squared_error",
    "l1_loss": "absolute_error",
    "binary_cross_entropy_with_logits": "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy_with_integer_labels": "softmax_cross_entropy",
    "gce": "generalized_cross_entropy",
    "categorical_generalized_cross_entropy": "generalized_cross_entropy",
    "sce": "symmetric_cross_entropy",
    "mae_prob": "mae_probabilities",
}


_TASKS = ("regression", "classification")


def register(name: str, fn: Callable[..., jax.Array], *, task: str,
             knobs: dict[str, Any] | None = None) -> None:
    """Add a loss of one's own: `fn(predictions, targets, **knobs)` -> elementwise values.

    `task` is "regression" or "classification"; `knobs` maps each numeric keyword argument a sweep
    may vary to its default (a float knob becomes a traced sweep axis, `config.loss_knobs.<knob>`).
    Register before `experiments.config_schema.base_config()` builds a config (name the module
    in `base_config(imports=...)`, which records it for `reproduce` and `merge`). Registering a
    name of one's own again replaces it; a built-in name or alias is refused, and so is a knob
    another loss has with a different default (knobs share one namespace, config.loss_knobs).
    """
    knobs = dict(knobs or {})
    if name in ALIASES:
        raise ValueError(f"loss name {name!r} is an alias of {ALIASES[name]!r}; choose another")
    if name in _BUILTINS:
        raise ValueError(f"loss name {name!r} is a built-in loss; choose another")
    if task not in _TASKS:
        raise ValueError(f"task={task!r} for loss {name!r}: expected one of {', '.join(_TASKS)}")
    if not callable(fn):
        raise ValueError(f"loss {name!r}: fn must be callable, got {type(fn).__name__}")
    for other, entry in _REGISTRY.items():
        for knob in set(knobs) & set(entry.knobs) if other != name else ():
            if knobs[knob] != entry.knobs[knob] or type(knobs[knob]) is not type(entry.knobs[knob]):
                raise ValueError(
                    f"knob {knob!r} of loss {name!r} (default {knobs[knob]!r}) is also loss "
                    f"{other!r}'s knob, with default {entry.knobs[knob]!r}: knobs share "
                    "config.loss_knobs, so give it another name or the same default")
    _REGISTRY[name] = _Entry(fn, task, knobs)


def canonical(name: str) -> str:
    """The canonical name of a loss given by its name or an alias (ValueError otherwise)."""
    name = ALIASES.get(name, name)
    _entry(name)
    return name


def _entry(name: str) -> _Entry:
    name = ALIASES.get(name, name)
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(str(name), [*names(), *ALIASES], n=3, cutoff=0.4)
    close = list(dict.fromkeys(ALIASES.get(c, c) for c in close))  # as canonical names
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ValueError(f"unknown loss {name!r}{hint} (valid: {', '.join(names())})")


def names() -> tuple[str, ...]:
    """The canonical loss names, sorted (aliases: `ALIASES`)."""
    return tuple(sorted(_REGISTRY))


def knobs(name: str) -> dict[str, Any]:
    """The loss's knobs and their defaults, e.g. knobs("huber") == {"delta": 1.0}."""
    return dict(_entry(name).knobs)


def task(name: str) -> str:
    """ "regression" (predictions, targets), "classification" (logits, labels) or
    "representation" (embeddings: `ntxent`, `triplet_margin`)."""
    return _entry(name).task


def get(name: str, **knob_values: Any) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The loss `name` (canonical or alias) with its knobs bound: (predictions, targets) -> values.

    Knobs not given take their defaults (`knobs(name)`); knob values may be tracers (a knob
    swept with vmap inside one compiled program). A concrete value out of range raises
    ValueError when the loss is called; an unknown knob, or a value that is not a number
    (a string, None), raises here (TypeError, naming the knob).
    """
    entry = _entry(name)
    unknown = sorted(set(knob_values) - set(entry.knobs))
    if unknown:
        valid = ", ".join(entry.knobs) or "none"
        raise ValueError(f"unknown knob(s) {', '.join(unknown)} for loss {name!r} (valid: {valid})")
    for knob, value in knob_values.items():
        _checks.number(knob, value)
    return functools.partial(entry.fn, **{**entry.knobs, **knob_values})
