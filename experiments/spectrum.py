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
  slq_quadrature, broadened_density
                       the spectral density (1/n)·Σᵢ δ(t − λᵢ) by stochastic Lanczos quadrature
                       (Ubaru, Chen & Saad 2017): each Rademacher probe's m Lanczos steps give
                       the Gauss quadrature (nodes θₖ, weights wₖ) of zᵀg(H)z/n, exact for
                       polynomials g of degree ≤ 2m − 1; their mean, smoothed by a Gaussian on an
                       eigenvalue grid (Ghorbani, Krishnan & Xiao 2019; PyHessian), integrates
                       to 1. With config.spectrum_density (experiments.density_table).
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
    return _top_ritz_values(lanczos_tridiagonal(matvec, start, min(steps, flat.shape[0])), k)


def _top_ritz_values(tridiagonal: jax.Array, k: int) -> jax.Array:
    steps = tridiagonal.shape[0]
    top = jnp.arange(steps - 1, max(steps - k, 0) - 1, -1)
    ritz = tridiagonal_eigenvalues(tridiagonal, top)
    return jnp.pad(ritz, (0, k - ritz.shape[0]), constant_values=jnp.nan)  # NaN past dim(θ)


def gauss_quadrature(tridiagonal: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(nodes, weights) of the Gauss quadrature of a Lanczos tridiagonal T from a unit start
    vector q: the eigenvalues θₖ of T (ascending) and wₖ = (e₁ᵀuₖ)², so that Σₖ wₖ g(θₖ)
    approximates qᵀg(H)q (Golub & Meurant, *Matrices, Moments and Quadrature*, ch. 6).

    θₖ by bisection (tridiagonal_eigenvalues); uₖ without LAPACK (a custom call, see there) by
    the twisted factorization of T − θₖI (Dhillon & Parlett 2004, "Multiple representations to
    compute orthogonal eigenvectors", §3): the top-down pivots d⁺ and bottom-up pivots d⁻ give
    γⱼ = d⁺ⱼ + d⁻ⱼ − (αⱼ − θ); with x_r = 1 at r = argmin |γⱼ| (where uₖ is large), xⱼ =
    −βⱼxⱼ₊₁/d⁺ⱼ above r and xⱼ₊₁ = −βⱼxⱼ/d⁻ⱼ₊₁ below, and wₖ = x₁²/‖x‖². Reading wₖ off
    e₁ᵀ(T − θI)⁻¹e₁ instead (its residue) returns ~1 for eigenvectors localized away from e₁
    (true weight ~1e-20): θₖ is then within rounding of an eigenvalue of T[1:, 1:].
    After a breakdown (βⱼ = 0 and zeros below: lanczos_tridiagonal's exhausted Krylov space) the
    zero rows are not part of the quadrature: they get weight 0 and node NaN.
    """
    alphas, betas = jnp.diag(tridiagonal), jnp.diag(tridiagonal, 1)
    m = alphas.shape[0]
    live = 1 + jnp.sum(betas != 0)  # rows of the explored Krylov space
    alive = jnp.arange(m) < live
    radius = jnp.abs(jnp.pad(betas, (1, 0))) + jnp.abs(jnp.pad(betas, (0, 1)))
    top = jnp.max(jnp.where(alive, alphas + radius, -jnp.inf))
    bottom = jnp.min(jnp.where(alive, alphas - radius, jnp.inf))
    # The dead rows (decoupled: β = 0 between them) sit above every live eigenvalue, so the
    # live ones are the first `live` in ascending order.
    alphas = jnp.where(alive, alphas, top + (top - bottom) + jnp.abs(top) + 1.0)
    tridiagonal = jnp.diag(alphas) + jnp.diag(betas, 1) + jnp.diag(betas, -1)
    nodes = tridiagonal_eigenvalues(tridiagonal, jnp.arange(m))
    floor = jnp.finfo(alphas.dtype).eps * jnp.maximum(jnp.max(jnp.abs(tridiagonal)), 1e-30)
    beta2 = betas**2

    def pivots(shift, diagonal, squares, reverse):
        def step(d, ab):
            d = ab[0] - shift - ab[1] / jnp.where(jnp.abs(d) < floor, floor, d)
            return d, d

        first = diagonal[-1 if reverse else 0] - shift
        _, rest = jax.lax.scan(step, first, (diagonal[:-1], squares) if reverse
                               else (diagonal[1:], squares), reverse=reverse)
        out = jnp.concatenate([rest, first[None]] if reverse else [first[None], rest])
        return jnp.where(jnp.abs(out) < floor, floor, out)

    def weight(theta):
        down = pivots(theta, alphas, beta2, False)  # d⁺: eliminating from the top
        up = pivots(theta, alphas, beta2, True)  # d⁻: from the bottom
        twist = jnp.argmin(jnp.abs(down + up - (alphas - theta)))
        index = jnp.arange(m)
        above = jnp.where(index[:-1] < twist, -betas / down[:-1], 1.0)  # xⱼ/xⱼ₊₁, j < r
        below = jnp.where(index[1:] > twist, -betas / up[1:], 1.0)  # xⱼ₊₁/xⱼ, j ≥ r
        x_above = jnp.cumprod(jnp.append(above, 1.0)[::-1])[::-1]
        x_below = jnp.cumprod(jnp.insert(below, 0, 1.0))
        x = jnp.where(index < twist, x_above, jnp.where(index > twist, x_below, 1.0))
        return x[0] ** 2 / jnp.sum(x**2)

    weights = jnp.where(alive, jax.vmap(weight)(nodes), 0.0)
    return jnp.where(alive, nodes, jnp.nan), weights


def slq_quadrature(
    f: Callable, params, key: jax.Array, probes: int, steps: int
) -> tuple[jax.Array, jax.Array]:
    """Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017): (probes, m) nodes and weights of
    `steps` Lanczos steps (capped at dim(θ)) from each of `probes` Rademacher vectors drawn from
    key, so that mean over probes of Σₖ wₖ g(θₖ) estimates tr(g(H))/dim(θ) (slq_estimate)."""
    return _slq_and_top(f, params, key, probes, steps, None, 0)[0]


def _slq_and_top(f: Callable, params, key, probes: int, steps: int, v0, k: int):
    """((nodes, weights) of slq_quadrature, and with v0 the top_eigenvalues from v0): every
    Lanczos run in one vmapped loop, so the measurement compiles one Hessian-vector product
    for both and runs its steps side by side."""
    matvec, flat = _flat_hvp(f, params)
    starts = jax.random.rademacher(key, (probes, flat.shape[0]), flat.dtype)
    if v0 is not None:
        starts = jnp.concatenate([starts, ravel_pytree(v0)[0][None].astype(flat.dtype)])
    steps = min(steps, flat.shape[0])
    tridiagonals = jax.vmap(lambda v: lanczos_tridiagonal(matvec, v, steps))(starts)
    quadrature = jax.vmap(gauss_quadrature)(tridiagonals[:probes])
    return quadrature, (_top_ritz_values(tridiagonals[probes], k) if v0 is not None else None)


def slq_estimate(nodes: jax.Array, weights: jax.Array, g: Callable) -> jax.Array:
    """tr(g(H))/dim(θ) from slq_quadrature's nodes and weights (dead nodes have weight 0)."""
    return jnp.mean(jnp.sum(weights * jnp.where(weights > 0, g(nodes), 0.0), axis=-1))


def broadened_density(
    nodes: jax.Array, weights: jax.Array, grid_size: int, sigma: float
) -> tuple[jax.Array, jax.Array]:
    """(eigenvalue grid, density): the SLQ spectral measure smoothed by a Gaussian,
    φ(t) = mean over probes of Σₖ wₖ·N(t; θₖ, s²) (Ghorbani, Krishnan & Xiao 2019, eq. 4; as
    PyHessian and google/spectral-density, but in the compiled program).

    s = sigma × the nodes' range (at least 1e-3·max|θ|, so a point spectrum still resolves in
    float32), and the grid spans the nodes ± 5s in grid_size points: the Gaussians' mass outside
    it is < 6e-7 and the grid step is ≤ s for grid_size ≥ (1 + 10·sigma)/sigma + 1 (61 at
    sigma = 0.02), where the trapezoid rule integrates φ to 1 within float32 rounding.
    """
    live = weights > 0
    lo = jnp.min(jnp.where(live, nodes, jnp.inf))
    hi = jnp.max(jnp.where(live, nodes, -jnp.inf))
    width = jnp.maximum(hi - lo, 1e-3 * jnp.maximum(jnp.abs(lo), jnp.abs(hi)))
    s = sigma * jnp.maximum(width, 1e-30)
    grid = jnp.linspace(lo - 5.0 * s, hi + 5.0 * s, grid_size, dtype=nodes.dtype)
    gap = (grid[:, None, None] - jnp.where(live, nodes, 0.0)) / s
    kernel = jnp.exp(-0.5 * gap**2) / (s * jnp.sqrt(2.0 * jnp.pi).astype(nodes.dtype))
    density = jnp.mean(jnp.sum(weights * kernel, axis=-1), axis=-1)
    return grid, density


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


# The density's (density_grid,) arrays per measurement: metrics of three axes (runs, logged
# steps, grid), which the curves table leaves out; experiments.density_table writes them.
DENSITY_GRID, DENSITY = "spectrum_density_eigenvalue", "spectrum_density"


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
    steps, k = int(config.lanczos_steps), int(config.spectrum_k)
    out = {}
    if config.spectrum_density:  # the top-k's Lanczos run beside the probes'
        (nodes, weights), top = _slq_and_top(
            f, params, jax.random.fold_in(key, 1), int(config.density_probes), steps, v0, k
        )
        out[DENSITY_GRID], out[DENSITY] = broadened_density(
            nodes, weights, int(config.density_grid), float(config.density_sigma)
        )
    else:
        top = top_eigenvalues(f, params, v0, k, steps)
    out.update(zip(eigenvalue_names(config), top, strict=True))
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
    out = {name: jnp.float32(jnp.nan) for name in names}
    if config.spectrum_density:
        grid = jnp.full((int(config.density_grid),), jnp.nan, jnp.float32)
        out.update({DENSITY_GRID: grid, DENSITY: grid})
    return out


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
