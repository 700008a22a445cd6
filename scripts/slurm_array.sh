#!/usr/bin/env bash
# An example Slurm job array: a sweep split into one shard per chunk of its grid (the default
# sweep: 4), one array task each, all writing into one shared workdir. Adapt the #SBATCH lines
# to your cluster, then submit by running the script itself (not through sbatch):
#
#   scripts/slurm_array.sh                                   # the default sweep
#   scripts/slurm_array.sh --config.sweep.seed='(0,1,2,3,4,5,6,7)'   # extra flags: the sweep's
#   CONFIG=configs/anchor.py WORKDIR=runs/anchor MAX_TASKS=16 scripts/slurm_array.sh
#
# Run directly, it asks the sweep for its plan (`--dry_run`, whose last line is `chunks: N`),
# and submits itself with `sbatch --array=0-<tasks-1>`, tasks = min(N, MAX_TASKS): a task per
# chunk at most, since a chunk is the smallest unit of work (more tasks would get nothing).
# Under Slurm, each task runs the shard-th of num_shards contiguous blocks of the grid's chunks
# (see experiments/parts.py) and writes its own chunk files. The last task to finish sees
# every chunk and assembles runs.csv, curves.csv, TensorBoard events and plots. If tasks failed
# and were rerun separately, or to assemble by hand:
#
#   python -m experiments.merge --workdir=runs/default
#
# which refuses, listing the missing chunks, until every shard is done. A rerun of a task skips
# the chunks it already wrote. The workdir must be on a file system every node sees; .venv is
# made when submitting, so the tasks don't each try to create it.
#
#SBATCH --job-name=losslab-sweep
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
#SBATCH --output=slurm-%A_%a.out
# For GPUs: #SBATCH --gres=gpu:1 (a task uses every GPU it sees, one chunk split over them)

set -euo pipefail
CONFIG="${CONFIG:-configs/default.py}"
WORKDIR="${WORKDIR:-runs/default}"
if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then  # submitting: size the array from the plan
  script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
  source "$(dirname "$script")/bootstrap.sh"  # also cds to the repository root
  chunks="$(python -m experiments.sweep --config="$CONFIG" --dry_run "$@" | sed -n 's/^chunks: //p')"
  tasks=$(( chunks < ${MAX_TASKS:-$chunks} ? chunks : ${MAX_TASKS:-$chunks} ))
  echo "slurm_array: ${chunks} chunks -> an array of ${tasks} tasks" >&2
  exec sbatch --array="0-$((tasks - 1))" --export="ALL,CONFIG=$CONFIG,WORKDIR=$WORKDIR" \
    "$script" "$@"
fi
cd "${SLURM_SUBMIT_DIR:?}"
source scripts/bootstrap.sh

exec python -m experiments.sweep --config="$CONFIG" --workdir="$WORKDIR" \
    --config.shard="$SLURM_ARRAY_TASK_ID" \
    --config.num_shards="${SLURM_ARRAY_TASK_COUNT:?}" \
    "$@"
