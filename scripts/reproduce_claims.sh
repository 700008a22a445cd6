#!/usr/bin/env bash
# The evidence report: every claim's experiment, then runs/claims/report.{md,html}.
# Extra flags go to experiments.claims:
#   ./scripts/reproduce_claims.sh --quick                 # about 2.2 minutes on 2 CPU cores (default: about 14.5)
#   ./scripts/reproduce_claims.sh --only=claim2,claim3 --workdir=runs/claims23
#   ./scripts/reproduce_claims.sh --rerender              # the report again from the saved tables (seconds)
source "$(dirname "$0")/bootstrap.sh"
exec python -m experiments.claims --workdir=runs/claims "$@"
