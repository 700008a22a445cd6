"""The tables a claim's `compute` hands to its `judge`, saved as CSV so a report re-renders.

A claim module is two functions (see experiments/claims/__main__.py):

    compute(workdir, quick) -> dict[str, pd.DataFrame]   # training, closed forms, outside oracles
    judge(tables, workdir, quick) -> Section | list[Section]  # rule, verdict, findings, plots

The runner saves compute's tables as `<workdir>/<key>/<name>.csv` with a manifest
`<workdir>/<key>/computed.json` (the names, in order) and hands `judge` the tables *read back
from those files*, in a live run and in a re-render alike: judge never sees an in-memory value
that the CSV does not hold, so `--rerender` gives the same report byte for byte.

CSV round trip: floats are written with Python's shortest round-trip repr and read back exactly
(pandas 3's default parser; `float_precision="round_trip"` under pandas 2); bools and ints keep
their dtype; strings stay strings (an empty string reads back as NaN, so write "" only where NaN
means the same).
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping

import pandas as pd

from experiments import result_files

MANIFEST = "computed.json"


def save(tables: Mapping[str, pd.DataFrame], outdir: str | pathlib.Path) -> dict[str, pathlib.Path]:
    """Write each table as <outdir>/<name>.csv (atomically) and the manifest last."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in tables.items():
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"computed table {name!r} is a {type(table).__name__}, "
                            "not a pandas DataFrame")
        path = outdir / f"{name}.csv"
        result_files.atomic_write(path, lambda p, t=table: t.to_csv(p, index=False))
        paths[name] = path
    result_files.write_json(outdir / MANIFEST, {"tables": list(tables)})
    return paths


def names(outdir: str | pathlib.Path) -> list[str]:
    """The names of the tables `save` wrote (its manifest); FileNotFoundError if none."""
    manifest = pathlib.Path(outdir) / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} is missing: this claim's tables were never computed "
                                "here (run the report without --rerender first)")
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["tables"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{manifest} is damaged ({error}); rerun the claim") from error
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise ValueError(f"{manifest} is damaged (tables is not a list of names); rerun the claim")
    return listed


def load(outdir: str | pathlib.Path) -> dict[str, pd.DataFrame]:
    """The tables `save` wrote, in the same order; FileNotFoundError naming what is missing."""
    outdir = pathlib.Path(outdir)
    manifest = outdir / MANIFEST
    tables = {}
    for name in names(outdir):
        path = outdir / f"{name}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (listed in {manifest})")
        tables[name] = read_csv(path)
    return tables


# pandas 3 parses floats exactly by default and deprecates `float_precision`; pandas 2's default
# ("high") can miss the last bit, so it is asked for the round-trip parser.
_EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def read_csv(path: str | pathlib.Path) -> pd.DataFrame:
    """One table as `save` wrote it, floats exact."""
    try:
        return pd.read_csv(path, **_EXACT_FLOATS)
    except pd.errors.EmptyDataError:  # a table with no columns
        return pd.DataFrame()


def round_trip(tables: Mapping[str, pd.DataFrame], outdir: str | pathlib.Path):
    """save, then load: what `judge` receives (tests use it to check a judge on hand-made
    tables exactly as the runner would hand them)."""
    save(tables, outdir)
    return load(outdir)
