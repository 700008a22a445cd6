#!/usr/bin/env bash
# An example Slurm job array: the default sweep split into 8 shards, one array task each, all
# writing into one shared workdir. Adapt the #SBATCH lines to your cluster, then:
#
#   sbatch scripts/slurm_array.sh                       # 8 tasks; extra flags go to the sweep
#   sbatch scripts/slurm_array.sh --config.sweep.seed='(0,1,2,3,4,5,6,7)'
#
# Each task runs the shard-th of num_shards contiguous blocks of the grid's chunks (see
# experiments/distribution.py) and writes its own chunk files. The last task to finish sees
# every chunk and assembles runs.csv, curves.csv, TensorBoard events and plots. If tasks failed
# and were rerun separately, or to assemble by hand:
#
#   python -m experiments.merge --workdir=runs/default
#
# which refuses, listing the missing chunks, until every shard is done. A rerun of a task skips
# the chunks it already wrote. The workdir must be on a file system every node sees, and .venv
# must exist before submitting (run ./scripts/test.sh -m 'not slow' once), so that eight tasks
# don't each try to create it.
#
#SBATCH --job-name=losslab-sweep
#SBATCH --array=0-7
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
#SBATCH --output=slurm-%A_%a.out
# For GPUs: #SBATCH --gres=gpu:1 (a task uses every GPU it sees, one chunk split over them)

set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
source scripts/bootstrap.sh

exec python -m experiments.sweep --config=configs/default.py --workdir=runs/default \
    --config.shard="${SLURM_ARRAY_TASK_ID:?run me with sbatch}" \
    --config.num_shards="${SLURM_ARRAY_TASK_COUNT:?run me with sbatch}" \
    "$@"
