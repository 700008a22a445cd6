"""Throughput of every loss next to optax's equivalent and next to squared_error.

    .venv/bin/python scripts/bench_losses.py [--quick] [--rounds=N]

Jitted value and value+grad (jax.jit(jax.value_and_grad(lambda p: jnp.sum(loss(p, t))))) on 1e7
float32 residuals (regression) or 1e6×10 logits (classification), in one process (--quick: a
tenth of that); triplet_margin on 1e6 triplets of 10 features, ntxent on a batch of 2,048
embeddings of 10 features (pairs of positives; every pair of the batch is scored); optax's
poly loss and Dice take one-hot labels, so both sides get those. One sample is the mean of
back-to-back calls: as many as last --sample_ms (25 ms) by a warm-up timing, at least --calls
(5), the same count for the two members of a pair.

Pairing: a loss and optax's equivalent are timed back to back, in a random order, within each
round; the rounds (--rounds, 21 by default) shuffle the order of the pairs (and of the losses
optax does not have). Each round gives one ratio per pair (losslab time / optax time, value+grad;
below 1 is faster), so slow drifts of the machine cancel within a pair. Reported per loss: the
median ratio over the rounds and a distribution-free 95% interval of that median (order
statistics of the binomial(n, ½) distribution: ranks 6 and 16 of 21, 4 and 12 of 15).

Noise floor: two A/A pairs, each an optax loss against a second, separately compiled copy of
itself (squared_error on the regression input, softmax cross-entropy on the classification
input): identical programs, so their ratios show how far the method's medians and intervals
stray from 1 by chance on this machine at this time. A loss whose compiled value+grad program
is optax's own (the optimized HLO, names and source locations left out) is marked "same": its
ratio is another reading of the noise, not a difference between the two.

Memory: glibc hands a freed buffer of 40 MB back to the kernel, and the next call's output then
page-faults in anew: ~8 ms of kernel time per call on this machine, the same for every loss, and
present or not from one call to the next (so ratios jumped between ~1.0 and ~2.4 from run to
run). The script re-executes itself once with MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_
set, so freed buffers stay in the process and the timings compare the losses' own work.

Ends with one machine-readable line:
    bench_losses: worst_vs_optax=<x> worst_loss=<name> worst_vs_optax_ci=<lo>-<hi>
        worst_distinct=<x> worst_distinct_loss=<name> same_program=<names>
        noise_floor=<x> noise_floor_ci=<lo>-<hi> worst_vs_squared_error=<x>
(worst_vs_optax: the largest median ratio over the losses shared with optax, value+grad, the
target being worst_vs_optax <= 1.0; worst_distinct: the same over the losses whose program
differs from optax's; noise_floor: the A/A pair whose median is furthest from 1; the
squared_error ratio is informational, its 1.5x target retired with issue 11).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import optax

import losses

# Losses whose values optax computes too (same formula, same convention).
OPTAX_EQUIVALENT = {
    "squared_error": optax.losses.squared_error,
    "huber": optax.losses.huber_loss,
    "log_cosh": optax.losses.log_cosh,
    "softmax_cross_entropy": optax.losses.softmax_cross_entropy_with_integer_labels,
    "sigmoid_binary_cross_entropy": optax.losses.sigmoid_binary_cross_entropy,
    "sigmoid_focal": optax.losses.sigmoid_focal_loss,
    "multiclass_hinge": optax.losses.multiclass_hinge_loss,
    "hinge": optax.losses.hinge_loss,
    "perceptron": optax.losses.perceptron_loss,
    "kl_divergence": optax.losses.kl_divergence,
    "cosine_distance": optax.losses.cosine_distance,
    # issue 32 (optax's ntxent is one number, the weighted mean of losslab's per-anchor values)
    "sparsemax_loss": optax.losses.multiclass_sparsemax_loss,
    "poly_loss_cross_entropy": optax.losses.poly_loss_cross_entropy,
    "generalized_kl_divergence": optax.losses.generalized_kl_divergence,
    "dice": optax.losses.dice_loss,
    "ntxent": optax.losses.ntxent,
    "triplet_margin": optax.losses.triplet_margin_loss,
}
# Losses of three arrays (anchors, positives, negatives): benchmarked as (anchors, stacked pair).
TRIPLETS = ("triplet_margin",)
# ntxent compares every pair of a batch: a batch of this many embeddings (10 features).
CONTRASTIVE_BATCH = 2048
# A/A pairs: (label, optax loss, task of its inputs); the copy is compiled separately.
IDENTICAL = {
    "A/A squared_error": ("squared_error", "regression"),
    "A/A softmax_cross_entropy": ("softmax_cross_entropy", "classification"),
}
# Losses whose labels are not class indices: same-shape {0, 1}, ±1, or probabilities.
BINARY = ("sigmoid_binary_cross_entropy", "sigmoid_focal")
SIGNED = ("hinge", "perceptron")

# Keep freed memory in the process (see the module docstring); values in bytes.
_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 34)}


def _programs(fn, triplet: bool = False):
    # A fresh lambda per call: jax.jit caches by function, so two calls give two compilations.
    if triplet:
        fn = lambda a, pair, f=fn: f(a, pair[0], pair[1])
    value = jax.jit(lambda x, y: jnp.sum(fn(x, y)))
    value_grad = jax.jit(jax.value_and_grad(lambda x, y: jnp.sum(fn(x, y))))
    return value, value_grad


def _program_lines(program, x, y) -> list[str]:
    """The compiled program's instructions without names, metadata and source locations, sorted:
    equal for two programs XLA compiled alike (operand order and numbering aside)."""
    lines = []
    for line in program.lower(x, y).compile().as_text().splitlines():
        line = line.strip()
        if line.startswith(("%", "ROOT %")):  # instructions only
            line = re.sub(r", metadata=\{[^}]*\}", "", line)
            lines.append(re.sub(r"%[\w.\-]+", "%", line))
    return sorted(lines)


def _time(program, x, y, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        out = program(x, y)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / calls


def median_interval(values: list[float]) -> tuple[float, float, float]:
    """(median, lo, hi): lo/hi are order statistics giving a ≥ 95% interval for the median
    (distribution-free: the number of values below the median is binomial(n, ½))."""
    v, n = sorted(values), len(values)
    k = 0  # the largest k with P(Binomial(n, ½) ≤ k - 1) ≤ 0.025
    while sum(math.comb(n, i) for i in range(k + 1)) / 2**n <= 0.025:
        k += 1
    if k == 0:  # too few rounds for a 95% interval: the range
        return statistics.median(v), v[0], v[-1]
    return statistics.median(v), v[k - 1], v[n - k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e6 elements")
    parser.add_argument("--rounds", type=int, default=21, help="paired rounds (21)")
    parser.add_argument("--calls", type=int, default=5, help="least back-to-back calls per sample")
    parser.add_argument("--sample_ms", type=float, default=25.0, help="least duration of a sample")
    parser.add_argument("--only", default="", help="comma-separated losses (default: all)")
    parser.add_argument(
        "--page_faults", action="store_true",
        help="leave glibc's defaults: freed 40 MB buffers go back to the kernel",
    )
    args = parser.parse_args()
    if not args.page_faults and any(os.environ.get(k) != v for k, v in _MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **_MALLOC_ENV})
    n = 1_000_000 if args.quick else 10_000_000
    names = [name for name in losses.names() if not args.only or name in args.only.split(",")]

    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    inputs = {
        "regression": (jax.random.normal(k1, (n,)) * 3, jax.random.normal(k2, (n,))),
        "classification": (
            jax.random.normal(k1, (n // 10, 10)) * 3,
            jax.random.randint(k3, (n // 10,), 0, 10),
        ),
    }
    z = inputs["classification"][0]
    bits = jax.random.bernoulli(k3, 0.3, (n // 10, 10)).astype(jnp.float32)
    special = {name: (z, bits) for name in BINARY}
    special.update({name: (z, 2 * bits - 1) for name in SIGNED})
    special["kl_divergence"] = (jax.nn.log_softmax(z), jax.nn.softmax(z[::-1]))
    special["cosine_distance"] = (z, z[::-1])
    r, t = inputs["regression"]
    special["poisson_nll"] = (r / 3, jnp.round(jnp.abs(t) * 3))  # log-rates and counts
    one_hot = jax.nn.one_hot(inputs["classification"][1], 10)  # optax's poly and dice take these
    special["poly_loss_cross_entropy"] = (z, one_hot)
    special["dice"] = (z, one_hot)
    special["generalized_kl_divergence"] = (jax.nn.log_softmax(z) + 0.5, jax.nn.softmax(z[::-1]))
    batch = z[:CONTRASTIVE_BATCH]
    special["ntxent"] = (batch, jnp.arange(CONTRASTIVE_BATCH) // 2)  # pairs of positives
    special["triplet_margin"] = (z, jnp.stack([z[::-1], jnp.roll(z, 1, axis=0)]))

    # Units of a round: a pair (losslab, optax) timed back to back, or a single loss.
    candidates = {}  # label -> (programs, x, y)
    units = []
    for name in names:
        x, y = special[name] if name in special else inputs[losses.task(name)]
        triplet = name in TRIPLETS
        candidates[name] = (_programs(losses.get(name), triplet), x, y)
        if name in OPTAX_EQUIVALENT:
            candidates[f"optax:{name}"] = (_programs(OPTAX_EQUIVALENT[name], triplet), x, y)
            units.append((name, f"optax:{name}"))
        else:
            units.append((name,))
    for label, (name, task) in IDENTICAL.items():
        x, y = inputs[task]
        candidates[f"{label} (copy)"] = (_programs(OPTAX_EQUIVALENT[name]), x, y)
        candidates[label] = (_programs(OPTAX_EQUIVALENT[name]), x, y)
        units.append((f"{label} (copy)", label))
    calls = {}  # label -> (value calls, value+grad calls) per sample
    for label, ((value, value_grad), x, y) in candidates.items():  # compile, warm up, size
        _time(value, x, y, 2), _time(value_grad, x, y, 2)
        calls[label] = tuple(
            max(args.calls, math.ceil(args.sample_ms * 1e-3 / _time(p, x, y, 3)))
            for p in (value, value_grad)
        )
    for unit in units:  # the members of a pair make the same number of calls
        shared = tuple(max(c) for c in zip(*(calls[label] for label in unit), strict=True))
        calls.update({label: shared for label in unit})

    times = {label: ([], []) for label in candidates}
    order = random.Random(0)
    for _ in range(args.rounds):
        order.shuffle(units)
        for unit in units:
            for label in order.sample(unit, len(unit)):  # AB or BA at random
                (value, value_grad), x, y = candidates[label]
                times[label][0].append(_time(value, x, y, calls[label][0]))
                times[label][1].append(_time(value_grad, x, y, calls[label][1]))

    def paired(a: str, b: str) -> tuple[float, float, float]:
        return median_interval([ta / tb for ta, tb in zip(times[a][1], times[b][1], strict=True)])

    med = {label: tuple(statistics.median(t) for t in ts) for label, ts in times.items()}
    lo_rank, _ = median_interval(list(range(args.rounds)))[1:]
    print(
        f"{n:.0e} float32 elements per loss; {args.rounds} paired rounds, samples of ≥ "
        f"{args.sample_ms:g} ms (≥ {args.calls} calls); device {jax.devices()[0].platform}; "
        f"freed memory kept: "
        f"{not args.page_faults}; 95% interval = ranks {int(lo_rank) + 1} and "
        f"{args.rounds - int(lo_rank)} of the {args.rounds} per-round ratios"
    )
    header = (
        f"{'loss':30s} {'value ms':>9s} {'v+g ms':>9s} {'optax v+g':>10s} "
        f"{'vs optax':>9s} {'95% interval':>13s} {'same':>5s} {'vs sq_err':>9s}"
    )
    print(header)
    print("-" * len(header))
    worst, worst_name, worst_ci = 0.0, "-", (0.0, 0.0)
    distinct, distinct_name, same_program = 0.0, "-", []
    worst_sq = 0.0
    sq_vg = med["squared_error"][1] if "squared_error" in med else None
    for name in names:
        value, vg = med[name]
        optax_vg = med[f"optax:{name}"][1] if name in OPTAX_EQUIVALENT else None
        ratio = ci = same = None
        if optax_vg is not None:
            ratio, lo, hi = paired(name, f"optax:{name}")
            ci = f"{lo:.2f}-{hi:.2f}"
            if ratio > worst:
                worst, worst_name, worst_ci = ratio, name, (lo, hi)
            (_, ours), x, y = candidates[name]
            (_, theirs), _, _ = candidates[f"optax:{name}"]
            same = _program_lines(ours, x, y) == _program_lines(theirs, x, y)
            if same:
                same_program.append(name)
            elif ratio > distinct:
                distinct, distinct_name = ratio, name
        vs_sq = vg / sq_vg if sq_vg and losses.task(name) == "regression" else None
        if vs_sq is not None:
            worst_sq = max(worst_sq, vs_sq)
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"
        print(
            f"{name:30s} {value * 1e3:9.2f} {vg * 1e3:9.2f} "
            f"{fmt(optax_vg and optax_vg * 1e3, '10.2f'):>10s} {fmt(ratio, '9.2f'):>9s} "
            f"{ci or '-':>13s} {'-' if same is None else 'yes' if same else 'no':>5s} "
            f"{fmt(vs_sq, '9.2f'):>9s}"
        )
    floor, floor_ci = 1.0, (1.0, 1.0)
    for label in IDENTICAL:
        ratio, lo, hi = paired(f"{label} (copy)", label)
        print(f"{label:30s} {'':9s} {med[label][1] * 1e3:9.2f} {'':10s} {ratio:9.2f} "
              f"{f'{lo:.2f}-{hi:.2f}':>13s}")
        if abs(ratio - 1) >= abs(floor - 1):
            floor, floor_ci = ratio, (lo, hi)
    print(
        f"bench_losses: worst_vs_optax={worst:.2f} worst_loss={worst_name} "
        f"worst_vs_optax_ci={worst_ci[0]:.2f}-{worst_ci[1]:.2f} worst_distinct={distinct:.2f} "
        f"worst_distinct_loss={distinct_name} same_program={','.join(same_program) or '-'} "
        f"noise_floor={floor:.2f} "
        f"noise_floor_ci={floor_ci[0]:.2f}-{floor_ci[1]:.2f} worst_vs_squared_error={worst_sq:.2f}"
    )


if __name__ == "__main__":
    main()
