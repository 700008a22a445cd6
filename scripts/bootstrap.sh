# Sourced by the entry-point scripts: make sure .venv exists and matches requirements.lock.
# Creates it from the pinned lock on a fresh machine (only Python >= 3.11 needed), and
# reinstalls when the lock changed since the last install (a stamp holds the lock's hash).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"
STAMP="$VENV/.lock-sha256"
PY="${PYTHON:-python3}"
want="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
  "$PY" -c 'import sys; assert sys.version_info >= (3, 11), "losslab needs Python >= 3.11, found " + sys.version' 
  echo "bootstrap: installing .venv from requirements.lock (one time, about a minute)" >&2
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$LOCK"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
  echo "$want" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
