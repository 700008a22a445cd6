"""experiments.result_files: file modes, verified chunks (manifests), assembled tables."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from experiments import result_files


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_result_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        result_files.write_csv(tmp_path / "t.csv", pd.DataFrame({"a": [1]}))
        result_files.write_json(tmp_path / "t.json", {"a": 1})
    finally:
        os.umask(old)
    for name in ("t.csv", "t.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
