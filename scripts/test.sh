#!/usr/bin/env bash
# The whole test suite (README's test command). Extra flags go to pytest: ./scripts/test.sh -k huber
source "$(dirname "$0")/bootstrap.sh"
exec python -m pytest -q "$@"
