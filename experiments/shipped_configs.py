"""The config files losslab ships (the repository's `configs/`), found and loaded by file path.

An installed wheel has no top-level `configs` package (a researcher's project often has its own,
and the two shadowed each other; see pyproject.toml): the files ship as data inside `experiments`,
at experiments/_configs/. In a checkout they are the top-level configs/ beside experiments/.
`path("default.py")` is the file the sweep runs without --config; `load("claims.claim1_smoothness")`
is the module a claim reads its sizes from.

`load` imports `experiments._configs.<name>` from a wheel; in a checkout whose `configs` package
is this same folder (the tests, `python -m` from the repository root) `configs.<name>`, so both
spellings share one module; elsewhere it loads the file under the private name, never touching a
user's `configs`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys
from types import ModuleType

_HERE = pathlib.Path(__file__).resolve().parent
_INSTALLED = _HERE / "_configs"  # pyproject.toml's package-dir puts configs/ here in a wheel
DIRECTORY = _INSTALLED if _INSTALLED.is_dir() else _HERE.parent / "configs"
_PRIVATE = "experiments._configs"  # the installed package; in a checkout a sys.modules key


def path(relative: str) -> pathlib.Path:
    """The shipped file `relative` (e.g. 'default.py', 'claims/claim1_smoothness.py')."""
    return DIRECTORY / relative


def _is_our_configs_package() -> bool:
    spec = importlib.util.find_spec("configs")
    locations = spec.submodule_search_locations if spec is not None else None
    return bool(locations) and pathlib.Path(locations[0]).resolve() == DIRECTORY.resolve()


def load(dotted: str) -> ModuleType:
    """The shipped config module `dotted` (e.g. 'tiny', 'claims.claim1_smoothness')."""
    if DIRECTORY == _INSTALLED:
        return importlib.import_module(f"{_PRIVATE}.{dotted}")
    if _is_our_configs_package():
        return importlib.import_module(f"configs.{dotted}")
    name = f"{_PRIVATE}.{dotted}"  # a checkout's experiments beside someone else's `configs`
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path(dotted.replace(".", "/") + ".py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]
