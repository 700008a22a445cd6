# Sourced by the entry-point scripts: make sure .venv exists and matches the hashed locks.
# Creates it on a fresh machine (only Python >= 3.11 needed) from requirements-dev.lock (the
# runtime pins of requirements.lock plus the test and lint tools), installing with
# --require-hashes, and reinstalls when a lock changed since the last install (a stamp holds
# their hash). Regenerate the locks with scripts/lock.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements-dev.lock"
STAMP="$VENV/.lock-sha256"
PY="${PYTHON:-python3}"
want="$(cat "$ROOT/requirements.lock" "$LOCK" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
  "$PY" -c 'import sys; assert sys.version_info >= (3, 11), "losslab needs Python >= 3.11, found " + sys.version'
  echo "bootstrap: installing .venv from requirements-dev.lock (one time, about a minute)" >&2
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$LOCK"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
  echo "$want" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
