"""Every configurable field of a losslab sweep, with its default, meaning and units.

Experiment files in `configs/` start from `base_config()` and change what they need; all fields
exist in every config, so `--config.<field>=<value>` works for any of them and a typo fails
(configs are loaded with `lock_config=True`).

Conventions stated once, here:
- the data loss is the *mean* over the minibatch of the elementwise / per-example loss;
- the objective is data_loss + penalty_strength * penalty(params), with `l2` = ½‖θ‖² over the
  kernels (`penalty_mask='kernels'`), so its gradient is λθ and SGD on it equals SGD with weight
  decay λ; with `l2_mode='decoupled'` the same λ is applied as decoupled weight decay
  (θ ← θ − lr·λ·θ outside the optimizer's preconditioner, as AdamW) instead of entering the
  gradient. Curves always report the objective data_loss + λ·penalty so the two modes compare;
- `batch_size=0` means full-batch gradient descent; minibatches are drawn with replacement;
- `seed` drives parameter init, minibatch order and (for synthetic data) the noise draw.

Sweep axes: `config.sweep.<field>` (same dotted path as the field) holds a tuple of values, or
None for "not swept". Numeric axes (NUMERIC_FIELDS) become traced arrays inside one compiled
program; every other axis changes the program's structure and forms a group of its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pathlib
import re
import sys
from collections.abc import Sequence

from ml_collections import config_dict

_BASE_NUMERIC_FIELDS = ("seed", "learning_rate", "momentum", "penalty_strength", "l1_ratio")
_DATASET_NUMERIC_FIELDS = (
    "dataset.noise_scale", "dataset.df", "dataset.contamination", "dataset.outlier_scale",
)


class _NumericFields(Sequence):
    """The fields whose values enter the compiled run as traced arrays (one program for all values):
    among the loss knobs, every real-valued one (an int knob, multi_margin's exponent p, picks a
    different formula, so it changes the program). Read from the loss registry on each use, so
    the knobs of a loss registered later (`losses.register`) are swept like the built-ins'."""

    def _fields(self) -> tuple[str, ...]:
        import losses  # here: the field lists above are read without importing JAX

        knobs = {f"loss_knobs.{knob}" for name in losses.names()
                 for knob, default in losses.knobs(name).items() if isinstance(default, float)}
        return (*_BASE_NUMERIC_FIELDS, *sorted(knobs), *_DATASET_NUMERIC_FIELDS)

    def __getitem__(self, index):
        return self._fields()[index]

    def __len__(self) -> int:
        return len(self._fields())

    def __contains__(self, path: object) -> bool:
        return path in self._fields()

    def __iter__(self):
        return iter(self._fields())

    def __repr__(self) -> str:
        return repr(self._fields())


NUMERIC_FIELDS = _NumericFields()

# Execution fields that never change a run's numbers: a workdir may be resumed with other values.
# Not checkpoint_every: its segments are separate XLA programs, which may round a reduction
# differently from the one-piece program (issue 36: tv_ratio moved by up to 3.6e-7).
RESULT_NEUTRAL_FIELDS = (
    "tensorboard", "plots", "progress", "compilation_cache_dir", "max_runs",
    "compile_ahead", "cpu_devices",
    "shard", "num_shards", "distributed", "coordinator_address", "num_processes", "process_id",
)

# Fields that describe how the sweep is executed or written, not what a run computes:
# they can't be sweep axes and don't enter a run's identity (chunking, fusing and numerics
# flags do decide which files hold which runs, or the last bits of the numbers).
EXECUTION_FIELDS = (
    *RESULT_NEUTRAL_FIELDS, "imports", "sweep", "chunk_size", "checkpoint_every", "fuse_losses",
    "fuse_noise",
    "matmul_precision", "xla_gpu_deterministic_ops", "xla_optimization_level",
)


def import_modules(imports: Sequence[str]) -> None:
    """Import each module (dotted name, or path of a .py file) of `config.imports`.

    They register losses of one's own (`losses.register`); ValueError naming the module when one
    can't be imported.
    """
    for name in imports:
        try:
            if str(name).endswith(".py"):
                path = pathlib.Path(name).expanduser()
                spec = importlib.util.spec_from_file_location(f"losslab_imports.{path.stem}", path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(name)
        except Exception as e:  # any failure inside the user's module: name it, in one line
            text = " ".join(str(e).split())
            raise ValueError(f"config.imports: cannot import {name!r} ({type(e).__name__}: "
                             f"{text})") from None


def base_config(imports: Sequence[str] = ()) -> config_dict.ConfigDict:
    """All fields with defaults (a small synthetic regression with an MLP and Adam).

    `imports`: modules (dotted names, or .py paths) that register losses of one's own, imported
    first so their knobs are fields (`config.loss_knobs.<knob>`, sweepable) of this config;
    recorded in config.json as `config.imports`, so `reproduce` and `merge` import them again.
    """
    import losses  # here, not at the top: experiments.analysis reads the field lists without JAX

    import_modules(imports)
    c = config_dict.ConfigDict()
    c.imports = tuple(imports)  # modules registering losses of one's own (losses.register)
    c.seed = 0  # parameter init, minibatch order and (synthetic) noise draw

    c.dataset = config_dict.ConfigDict()
    # synthetic | diabetes | digits | mnist1d | mnist | teacher_classes
    c.dataset.name = "synthetic"
    c.dataset.teacher = "nonlinear"  # synthetic: linear | nonlinear
    c.dataset.n_train = 2048  # synthetic, teacher_classes: training examples
    c.dataset.n_test = 1024  # synthetic, teacher_classes: test examples
    c.dataset.dim = 16  # synthetic, teacher_classes: input dimension
    # synthetic, teacher_classes: fixed design x and teacher; mnist1d: generator seed
    c.dataset.data_seed = 0
    c.dataset.num_classes = 10  # teacher_classes: K, the classes of the teacher's arg-max
    # gaussian | laplace | student_t | contaminated | heteroscedastic; skewed (mean 0, median not):
    # exponential | lognormal | one_sided (data.add_noise)
    c.dataset.noise = "gaussian"
    c.dataset.noise_scale = 0.5  # std of the noise (student_t: multiplies a standard t_ν draw)
    c.dataset.df = 3.0  # student_t degrees of freedom ν
    c.dataset.contamination = 0.1  # contaminated: fraction ε of outliers
    c.dataset.outlier_scale = 10.0  # contaminated: outlier std / noise_scale
    c.dataset.test_fraction = 0.25  # diabetes, digits: fraction held out for test
    c.dataset.split_seed = 0  # diabetes, digits: seed of the train/test split
    c.dataset.num_samples = 4000  # mnist1d (80/20 split)
    c.dataset.image = True  # digits as 8x8x1 images (for the cnn) or flat 64-vectors
    # Flipped host-side from split_seed; the test split stays clean; a flipped label goes to a
    # uniform other class (symmetric) or to (y + 1) mod K (asymmetric).
    c.dataset.label_noise = 0.0  # classification: fraction of each class's training labels flipped
    c.dataset.label_noise_kind = "symmetric"  # symmetric | asymmetric
    # Fraction of the training split held out for selection (lr, λ, budget), seeded; 0 = none.
    c.dataset.validation_fraction = 0.0
    c.dataset.validation_seed = 0  # seed of the validation hold-out

    c.model = config_dict.ConfigDict()
    c.model.name = "mlp"  # linear | mlp | cnn
    c.model.widths = (64,)  # mlp: hidden layer widths
    c.model.activation = "relu"  # hidden activation (flax.linen name)
    c.model.channels = (16, 32)  # cnn: conv channels per layer
    c.model.dense_width = 64  # cnn: width of the dense layer

    c.loss = "squared_error"  # any name in losses.names()
    # Knobs of every loss with the library's defaults (losses.knobs(name): one definition; the
    # docstrings say what each means); a run passes only those its loss takes.
    c.loss_knobs = config_dict.ConfigDict(
        {knob: value for name in losses.names() for knob, value in losses.knobs(name).items()}
    )

    c.penalty = "l2"  # l2 (½‖θ‖²) | l1 (‖θ‖₁) | elastic_net | none
    c.penalty_strength = 0.0  # λ: weight of the penalty in the objective
    c.l1_ratio = 0.5  # elastic_net mixing
    c.penalty_mask = "kernels"  # kernels (ndim >= 2; biases exempt) | all
    c.l2_mode = "coupled"  # coupled (λ·penalty in the loss) | decoupled (weight decay)

    c.optimizer = "adam"  # sgd | momentum | adam | adamw (= adam, decoupled decay)
    c.learning_rate = 1e-3  # peak step size (schedules scale it)
    c.momentum = 0.9  # momentum (heavy ball β)
    c.b1 = 0.9  # adam: first-moment decay β1
    c.b2 = 0.999  # adam: second-moment decay β2
    c.eps = 1e-8  # adam: ε added to the root second moment
    c.schedule = "constant"  # constant | cosine | inverse_sqrt (config.warmup_steps: linear warmup)
    c.warmup_steps = 0  # linear warmup steps (0: none)

    c.steps = 1000  # optimizer steps per run
    c.batch_size = 256  # 0: full batch
    c.log_every = 20  # metrics every this many steps (and at step 0)
    c.diverge_threshold = 1e3  # diverged: objective not finite or > this × its initial value

    # Stability diagnostics (experiments.stability); they change the program, not the run's numbers.
    c.diagnostics = True  # evaluation-batch gradient norm and gradient cosines (False: cheapest)
    c.sharpness_every = 0  # top Hessian eigenvalue every this many steps (0: off)
    c.sharpness_iters = 20  # power iterations per estimate
    c.sharpness_batch = 256  # fixed evaluation batch (first examples of the training split)
    # Hessian spectrum (experiments.spectrum) on that batch every this many steps (0: off): the top
    # spectrum_k eigenvalues by lanczos_steps Lanczos steps (capped at the parameter count), the
    # Hutchinson trace over hutchinson_probes Rademacher probes and, for adam/adamw, the
    # preconditioned sharpness (Lanczos on P^{-1/2} H P^{-1/2}, P = diag(√v̂ + ε)).
    c.spectrum_every = 0  # Hessian spectrum every this many steps (0: off)
    c.spectrum_k = 5  # top Hessian eigenvalues reported (Lanczos)
    c.lanczos_steps = 20  # Lanczos steps per estimate (capped at the parameter count)
    c.hutchinson_probes = 64  # Rademacher probes for the Hutchinson trace
    # The spectral density by stochastic Lanczos quadrature at the same cadence: density_probes
    # Rademacher probes, lanczos_steps Lanczos steps each, Gaussian-broadened (σ = density_sigma ×
    # the Ritz values' range) on density_grid eigenvalues: the table spectrum_density.csv.
    c.spectrum_density = False  # SLQ spectral density every spectrum_every steps
    c.density_probes = 2  # Rademacher probes (Lanczos runs beside the top-k's) for the density
    c.density_grid = 101  # eigenvalue grid points of the density
    c.density_sigma = 0.02  # Gaussian width, a fraction of the Ritz values' range
    c.spike_tolerance = 0.1  # a spike: objective > (1 + τ) × its running EMA
    c.spike_ema = 0.9  # decay of that EMA (per logged step)
    c.target_loss = -1.0  # steps_to_target: first logged step with objective <= target (< 0: off)
    c.target_tolerance = 0.05  # ... else first logged step within this relative gap of the final

    # Execution: how the sweep runs and what it writes, never what a run computes.
    c.chunk_size = 96  # runs per compiled call (cost per run rises past ~100 on 2 cores)
    # One compiled program for all losses of a task (the run's loss is a traced index): on CPU
    # compiling dominates a sweep's time, and an elementwise loss is cheap next to the model.
    c.fuse_losses = True
    # Likewise one program for every noise family (the run's family is a traced index; the noise
    # is drawn once per run, so computing every family's draw and selecting one costs little).
    c.fuse_noise = True
    c.tensorboard = True  # write TensorBoard event files
    c.plots = True  # write the plots at the end
    c.progress = True  # progress bar on the console
    c.shard = 0  # run the shard-th of num_shards parts of the grid (Slurm arrays)
    c.num_shards = 1  # parts the grid is split into (one per Slurm array task)
    c.distributed = False  # jax.distributed.initialize() and split the grid over processes
    c.coordinator_address = ""  # host:port, or "" to let JAX detect the cluster
    c.num_processes = 0  # 0: detected
    c.process_id = -1  # -1: detected
    # Reproducible numbers first: full float32 matmuls (JAX's "default" may run TF32 or bf16
    # passes on GPUs/TPUs; on CPU both are full float32) and run-to-run identical GPU results.
    c.matmul_precision = "highest"  # jax_default_matmul_precision: default | high | highest
    c.xla_gpu_deterministic_ops = True  # sets --xla_gpu_deterministic_ops (GPU reproducibility)
    # XLA's --xla_backend_optimization_level (3 is XLA's own default). On CPU, 1 compiles about a
    # third faster; MLPs run as fast, CNNs ~1.25× slower (BENCHMARKS.md); other float rounding;
    # the evidence report, whose runs are short and compile-bound, uses 1. Like the flag above it
    # is read when JAX initializes: `python -m experiments.sweep` sets it before that.
    c.xla_optimization_level = 3
    c.checkpoint_every = 0  # checkpoint the vectorized training state every N steps (0: off)
    # JAX's persistent compilation cache: a rerun of the same program structure (any numeric
    # values) skips compiling. "" turns it off.
    c.compilation_cache_dir = "~/.cache/losslab/jax"
    # The grid budget: a grid of more runs is refused before it is expanded, with its estimated
    # memory and time (experiments.validation.check_budget); raise it for a deliberate huge sweep.
    c.max_runs = 100_000
    # Compile every group's program up front in worker threads (XLA compiles outside the GIL)
    # while earlier groups train, and dispatch each chunk before the previous one's results are
    # written. False: compile each group when its turn comes, one chunk at a time (same numbers).
    c.compile_ahead = True
    # On the CPU, the devices XLA makes of the cores (--xla_force_host_platform_device_count,
    # set before JAX starts, as the one above): each runs whole chunks side by side, the same
    # program as one device, so the numbers are the same for every value (experiments.engine).
    # XLA runs the small ops of one chunk mostly on one core: on 2 cores two devices train a
    # sweep about 2x as fast (BENCHMARKS.md). 0: one device per core; an XLA_FLAGS that already
    # sets the count wins; no effect on a GPU or TPU.
    c.cpu_devices = 0

    c.sweep = _sweep_placeholders(c)
    return c


def _sweep_placeholders(c: config_dict.ConfigDict) -> config_dict.ConfigDict:
    """config.sweep mirrors every run field with a `None` tuple placeholder."""
    sweep = config_dict.ConfigDict()
    for key, value in c.items():
        if key in EXECUTION_FIELDS:
            continue
        if isinstance(value, config_dict.ConfigDict):
            sweep[key] = _sweep_placeholders(value)
        else:
            sweep[key] = config_dict.placeholder(tuple)
    return sweep


_FIELD_LINE = re.compile(r"^\s*c\.([\w.]+)\s*=\s*(.*?)(?:\s+#\s*(.*))?$")


def _field_comments() -> dict[str, str]:
    """Dotted path -> the comment base_config() gives the field: its own trailing comment, else
    the first sentence of the comment block above it (the source is the one definition)."""
    comments: dict[str, str] = {}
    block: list[str] = []
    for line in inspect.getsource(base_config).splitlines():
        text = line.strip()
        if text.startswith("#"):
            block.append(text.lstrip("# "))
            continue
        match = _FIELD_LINE.match(line)
        if match:
            above = re.split(r"(?<=[.:])\s", " ".join(block), maxsplit=1)[0].rstrip(".:")
            comments[match.group(1)] = match.group(3) or above
        block = []
    return comments


def describe_fields() -> list[tuple[str, object, str]]:
    """(dotted path, default, one line of meaning) for every field but the sweep axes."""
    import losses
    from experiments import grid  # grid imports this module: here, once both are loaded

    comments = _field_comments()
    takers: dict[str, list[str]] = {}
    for name in losses.names():
        for knob in losses.knobs(name):
            takers.setdefault(knob, []).append(name)
    rows = []
    for path, default in grid.flatten(base_config()).items():
        if path.startswith("sweep."):
            continue
        if path.startswith("loss_knobs."):
            knob = path.split(".", 1)[1]
            meaning = f"knob of {', '.join(takers.get(knob, ['no loss']))} (see its docstring)"
        else:
            meaning = comments.get(path, "")
        rows.append((path, default, meaning))
    return rows

