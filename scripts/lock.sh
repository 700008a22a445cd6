#!/usr/bin/env bash
# Regenerate the hashed locks from pyproject.toml with uv's resolver (the current pins are kept
# where they still satisfy pyproject; `./scripts/lock.sh --upgrade` moves to the newest):
#   requirements.lock      the library and the experiments (what a sweep needs)
#   requirements-dev.lock  the same pins plus the test and lint tools (what scripts/bootstrap.sh installs)
# Then run `python scripts/check_lock.py` (the test suite does too).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null; then
  UVENV="$(mktemp -d)/uv"; python3 -m venv "$UVENV"; "$UVENV/bin/pip" install --quiet uv
  PATH="$UVENV/bin:$PATH"
fi
common=(--universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command ./scripts/lock.sh)
uv pip compile pyproject.toml --extra experiments "${common[@]}" "$@" -o requirements.lock
uv pip compile pyproject.toml --extra experiments --extra test -c requirements.lock "${common[@]}" "$@" \
  -o requirements-dev.lock
