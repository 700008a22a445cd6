r"""Hessian spectrum diagnostics on Hessian-vector products, one run at a time (vmapped by callers).

All functions take the objective `f(params) -> scalar` and work on the flattened parameter vector
(`jax.flatten_util.ravel_pytree`); nothing forms the Hessian. experiments.training calls them every
`config.spectrum_every` steps on the fixed evaluation batch (the one the sharpness power iteration
uses), inside the compiled, vmapped program.

  top_eigenvalues      the k largest Ritz values of m Lanczos steps on H (Lanczos 1950; Golub &
                       Van Loan, *Matrix Computations* §10.1), with full reorthogonalization so
                       float32 keeps the basis orthogonal: for m ≥ dim(θ) they are H's eigenvalues
                       to rounding; for m < dim(θ) the top ones converge first (Kaniel–Paige).
  hutchinson_trace     tr(H) ≈ (1/N)·Σ zᵢᵀHzᵢ over N Rademacher probes (Hutchinson 1990), unbiased
                       with variance 2·Σ_{i≠j} H_ij² / N.
  preconditioned_top_eigenvalue
                       the top eigenvalue of P^{-1/2} H P^{-1/2} for a diagonal P (Cohen et al.
                       2022, "Adaptive gradient methods at the edge of stability": Adam with
                       preconditioner P = diag(√v̂ + ε) is stable on a quadratic only while it is
                       below adam_threshold(lr, β1) = (2 + 2β1)/((1 − β1)·lr), 38/lr for β1 = 0.9).
  adam_preconditioner  P's diagonal from optax's scale_by_adam state.
  gradient_noise_scale B_simple = tr(Σ)/|G|² (McCandlish et al. 2018) from the per-example
                       gradients of the evaluation batch.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from experiments.stability import hvp

# A Lanczos residual this small relative to the largest |α|, |β| seen means the Krylov space is
# exhausted (H has fewer distinct eigenvalues along v0 than steps): the next vector is set to 0,
# which leaves the Ritz values of the explored space and adds zeros instead of noise.
_BREAKDOWN = 1e-6


def _flat_hvp(f: Callable, params) -> tuple[Callable, jax.Array]:
    """(v ↦ H·v on flat vectors, the flat parameters)."""
    flat, unravel = ravel_pytree(params)

    def matvec(v):
        return ravel_pytree(hvp(f, params, unravel(v.astype(flat.dtype))))[0]

    return matvec, flat


def lanczos_tridiagonal(matvec: Callable, v0: jax.Array, steps: int) -> jax.Array:
    """The (steps, steps) Lanczos tridiagonal T of a symmetric operator from start vector v0.

    Full reorthogonalization (twice, Gram–Schmidt against every previous basis vector) keeps the
    float32 basis orthogonal, so T has no spurious copies of converged eigenvalues. `steps` must
    not exceed v0's length (the basis would be overcomplete).
    """
    n = v0.shape[0]
    assert steps <= n, f"{steps} Lanczos steps on a {n}-dimensional space"
    basis = jnp.zeros((steps, n), v0.dtype)
    q = v0 / jnp.linalg.norm(v0)

    def body(j, carry):
        basis, q, alphas, betas, scale = carry
        basis = basis.at[j].set(q)
        w = matvec(q)
        alpha = jnp.vdot(q, w)
        for _ in range(2):  # twice is enough (Parlett's "twice is enough")
            w = w - basis.T @ (basis @ w)
        beta = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.maximum(jnp.abs(alpha), beta))
        alive = beta > _BREAKDOWN * scale
        q = jnp.where(alive, w / jnp.where(alive, beta, 1.0), 0.0)
        beta = jnp.where(alive, beta, 0.0)
        return basis, q, alphas.at[j].set(alpha), betas.at[j].set(beta), scale

    zeros = jnp.zeros((steps,), v0.dtype)
    init = (basis, q, zeros, zeros, jnp.zeros((), v0.dtype))
    _, _, alphas, betas, _ = jax.lax.fori_loop(0, steps, body, init)
    return jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)


def tridiagonal_eigenvalues(tridiagonal: jax.Array, indices: jax.Array) -> jax.Array:
    """Eigenvalues number `indices` (ascending, 0-based) of a symmetric tridiagonal matrix by
    bisection on Sturm counts (Golub & Van Loan §8.4.1), in plain jnp: LAPACK's eigvalsh is a
    custom call that deadlocked XLA:CPU when two host devices ran chunks at once."""
    diagonal = jnp.diag(tridiagonal)
    off = jnp.concatenate([jnp.zeros((1,), diagonal.dtype), jnp.diag(tridiagonal, 1)])
    radius = jnp.abs(off) + jnp.abs(jnp.concatenate([off[1:], jnp.zeros((1,), off.dtype)]))
    lo0, hi0 = jnp.min(diagonal - radius), jnp.max(diagonal + radius)  # Gershgorin
    tiny = jnp.finfo(diagonal.dtype).tiny

    def count_below(x):
        def step(d, ab):
            a, b2 = ab
            d = a - x - b2 / d
            d = jnp.where(jnp.abs(d) < tiny, -tiny, d)
            return d, d < 0

        _, negative = jax.lax.scan(step, jnp.ones((), diagonal.dtype), (diagonal, off**2))
        return jnp.sum(negative)

    def bisect(index):
        def halve(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = count_below(mid) >= index + 1
            return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

        lo, hi = jax.lax.fori_loop(0, 64, halve, (lo0, hi0))
        return 0.5 * (lo + hi)

    finite = jnp.all(jnp.isfinite(tridiagonal))  # NaN in (Adam before its first step): NaN out
    return jnp.where(finite, jax.vmap(bisect)(indices), jnp.nan)


def top_eigenvalues(f: Callable, params, v0, k: int, steps: int) -> jax.Array:
    """The k largest Hessian eigenvalues of f at params, descending, by `steps` Lanczos steps
    (capped at dim(θ)) from the pytree v0; NaN for those past dim(θ)."""
    matvec, flat = _flat_hvp(f, params)
    start = ravel_pytree(v0)[0]
    steps = min(steps, flat.shape[0])
    top = jnp.arange(steps - 1, max(steps - k, 0) - 1, -1)
    ritz = tridiagonal_eigenvalues(lanczos_tridiagonal(matvec, start, steps), top)
    return jnp.pad(ritz, (0, k - ritz.shape[0]), constant_values=jnp.nan)  # NaN past dim(θ)


def hutchinson_trace(f: Callable, params, key: jax.Array, probes: int) -> jax.Array:
    """tr(∇²f) by Hutchinson's estimator with `probes` Rademacher vectors drawn from key."""
    matvec, flat = _flat_hvp(f, params)
    z = jax.random.rademacher(key, (probes, flat.shape[0]), flat.dtype)
    return jnp.mean(jax.vmap(lambda v: jnp.vdot(v, matvec(v)))(z))


def preconditioned_top_eigenvalue(f: Callable, params, precondition, v0, steps: int):
    """Top eigenvalue of P^{-1/2} H P^{-1/2}, P = diag(precondition) (a pytree like params)."""
    matvec, flat = _flat_hvp(f, params)
    scale = jax.lax.rsqrt(ravel_pytree(precondition)[0])
    start = ravel_pytree(v0)[0]
    steps = min(steps, flat.shape[0])
    tridiagonal = lanczos_tridiagonal(lambda v: scale * matvec(scale * v), start, steps)
    return tridiagonal_eigenvalues(tridiagonal, jnp.array([steps - 1]))[0]


def gradient_noise_scale(per_example: Callable, params, x: jax.Array, y: jax.Array):
    """B_simple = tr(Σ)/|G|² (McCandlish et al. 2018, "An empirical model of large-batch
    training", eq. 2.8) from the per-example gradients gᵢ = ∇ per_example(params, xᵢ, yᵢ) of a
    batch: tr(Σ̂) = Σ_coords sample variance (ddof 1), G ≈ the mean gradient. The plug-in |Ḡ|²
    overestimates |G|² by tr(Σ)/B, so this reads low by the factor 1/(1 + B_simple/B)."""
    grads = jax.vmap(jax.grad(per_example), in_axes=(None, 0, 0))(params, x, y)
    flat = jax.vmap(lambda g: ravel_pytree(g)[0])(grads)
    mean = jnp.mean(flat, axis=0)
    trace = jnp.sum(jnp.var(flat, axis=0, ddof=1))
    return trace / jnp.maximum(jnp.vdot(mean, mean), 1e-30)


def adam_preconditioner(opt_state, b2: float, eps: float):
    """diag(√v̂ + ε) of optax.scale_by_adam's state in opt_state, v̂ = ν/(1 − β2ᵗ) (what divides
    the update; optax's eps_root = 0); NaN before the first step (t = 0: v̂ undefined)."""
    is_adam = lambda node: isinstance(node, optax.ScaleByAdamState)
    (adam,) = [s for s in jax.tree.leaves(opt_state, is_leaf=is_adam) if is_adam(s)]
    nu, count = adam.nu, adam.count
    correction = 1.0 - jnp.asarray(b2, jnp.float32) ** count.astype(jnp.float32)
    correction = jnp.where(count > 0, correction, jnp.nan)
    return jax.tree.map(lambda v: jnp.sqrt(v / correction) + eps, nu)


def adam_threshold(learning_rate, b1: float):
    """Cohen et al. 2022's stability threshold for Adam's preconditioned sharpness."""
    return (2.0 + 2.0 * b1) / ((1.0 - b1) * learning_rate)


# --- In a training run (experiments.training) ----------------------------------------------


def eigenvalue_names(config) -> list[str]:
    return [f"hessian_eig_{i}" for i in range(1, int(config.spectrum_k) + 1)]


def is_adaptive(config) -> bool:
    return config.optimizer in ("adam", "adamw")


def measure(
    f: Callable, per_example: Callable, batch, params, opt_state, v0, key: jax.Array, config
) -> dict[str, jax.Array]:
    """The curves of one measurement: hessian_eig_1..k, hessian_trace, gradient_noise_scale
    and, for adam/adamw, preconditioned_sharpness. f: the objective on the evaluation batch;
    per_example(params, x, y): its term for one example of batch = (x, y) (penalty included);
    v0: the run's fixed Lanczos start (a pytree like params)."""
    steps = int(config.lanczos_steps)
    top = top_eigenvalues(f, params, v0, int(config.spectrum_k), steps)
    out = dict(zip(eigenvalue_names(config), top, strict=True))
    out["hessian_trace"] = hutchinson_trace(f, params, key, int(config.hutchinson_probes))
    out["gradient_noise_scale"] = gradient_noise_scale(per_example, params, *batch)
    if is_adaptive(config):
        precondition = adam_preconditioner(opt_state, float(config.b2), float(config.eps))
        out["preconditioned_sharpness"] = preconditioned_top_eigenvalue(
            f, params, precondition, v0, steps
        )
    return out


def not_measured(config) -> dict[str, jax.Array]:
    """NaN for every curve of `measure` (the blocks between measurements)."""
    names = [*eigenvalue_names(config), "hessian_trace", "gradient_noise_scale"]
    names += ["preconditioned_sharpness"] * is_adaptive(config)
    return {name: jnp.float32(jnp.nan) for name in names}


def run_summary(metrics: dict[str, jax.Array], config, hyper) -> dict[str, jax.Array]:
    """Per-run columns: hessian_eig_1_max, hessian_trace_max, gradient_noise_scale_final (at
    the last measurement) and, for adam/adamw,
    preconditioned_sharpness_max, adam_threshold (Cohen et al. 2022, at the peak lr) and
    preconditioned_stability_ratio = preconditioned_sharpness_max / adam_threshold (> 1: past
    the edge)."""
    out = {
        "hessian_eig_1_max": jnp.nanmax(metrics["hessian_eig_1"]),
        "hessian_trace_max": jnp.nanmax(metrics["hessian_trace"]),
        "gradient_noise_scale_final": _last_measured(metrics["gradient_noise_scale"]),
    }
    if is_adaptive(config):
        out["preconditioned_sharpness_max"] = jnp.nanmax(metrics["preconditioned_sharpness"])
        out["adam_threshold"] = adam_threshold(hyper["learning_rate"], float(config.b1))
        out["preconditioned_stability_ratio"] = (
            out["preconditioned_sharpness_max"] / out["adam_threshold"]
        )
    return out


def _last_measured(curve: jax.Array) -> jax.Array:
    return curve[jnp.max(jnp.where(jnp.isnan(curve), -1, jnp.arange(curve.shape[0])))]
