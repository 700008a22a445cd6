#!/usr/bin/env bash
# The whole test suite (README's test command). Extra flags go to pytest: ./scripts/test.sh -k huber
# Tests run in LOSSLAB_TEST_WORKERS processes (pytest-xdist, default 2: most tests are bound by
# XLA's single-threaded compiles), each test file in one process (module fixtures are built once);
# LOSSLAB_TEST_WORKERS=0 runs them in this process. Under CI (CI=true) the 25 slowest are listed.
source "$(dirname "$0")/bootstrap.sh"
exec python -m pytest -q -n "${LOSSLAB_TEST_WORKERS:-2}" --dist loadfile ${CI:+--durations=25} "$@"
