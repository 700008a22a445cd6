#!/usr/bin/env bash
# The main job: the default sweep into runs/default. Extra flags go to experiments.sweep:
#   ./scripts/sweep.sh --config.sweep.seed='(0,1)' --workdir=runs/quick
source "$(dirname "$0")/bootstrap.sh"
exec python -m experiments.sweep --config=configs/default.py --workdir=runs/default "$@"
