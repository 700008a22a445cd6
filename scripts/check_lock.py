"""Fail when the hashed locks and pyproject.toml disagree.

Checks, for requirements.lock (the `experiments` extra) and requirements-dev.lock (that plus the
`test` extra): every package pyproject declares is pinned there with `==`, each pin satisfies
pyproject's specifier, every pin carries at least one `--hash`, and the two locks pin shared
packages to the same version. Run `python scripts/check_lock.py` (exit 1 with one line per
disagreement); `scripts/lock.sh` regenerates both locks. Needs only the standard library and
`packaging`.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOCKS = {"requirements.lock": ("experiments",), "requirements-dev.lock": ("experiments", "test")}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(path: pathlib.Path) -> dict[str, tuple[str, bool]]:
    """{canonical name: (version, has a hash)} from a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, bool]] = {}
    name = None
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            pins[name] = (match.group(2), "--hash=" in line)
        elif name and line.strip().startswith("--hash="):
            pins[name] = (pins[name][0], True)
        elif not line.startswith(" "):
            name = None
    return pins


def problems(root: pathlib.Path = ROOT) -> list[str]:
    """Every disagreement between pyproject.toml and the locks, one line each."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    found: list[str] = []
    locks = {}
    for lock_name, extras in LOCKS.items():
        path = root / lock_name
        if not path.exists():
            found.append(f"{lock_name}: missing (run scripts/lock.sh)")
            continue
        pins = locks[lock_name] = read_lock(path)
        declared = list(project["dependencies"])
        for extra in extras:
            declared += project["optional-dependencies"][extra]
        for spec in map(Requirement, declared):
            name = canonicalize_name(spec.name)
            if name not in pins:
                found.append(f"{lock_name}: {spec.name} is declared in pyproject but not pinned")
            elif not spec.specifier.contains(pins[name][0], prereleases=True):
                found.append(
                    f"{lock_name}: {spec.name}=={pins[name][0]} does not satisfy pyproject's {spec}"
                )
        found += [f"{lock_name}: {n}=={v} has no --hash" for n, (v, ok) in pins.items() if not ok]
    if len(locks) == 2:
        runtime, dev = locks.values()
        found += [
            f"requirements-dev.lock pins {n}=={dev[n][0]}, requirements.lock {v}"
            for n, (v, _) in runtime.items()
            if n in dev and dev[n][0] != v
        ]
        found += [f"requirements-dev.lock lacks {n} (pinned in requirements.lock)"
                  for n in runtime if n not in dev]
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(f"check_lock: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
