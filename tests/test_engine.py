"""The engine as a library: importing it, or what the claims import, defines no flag."""

from __future__ import annotations

import json
import subprocess
import sys

# Run in a fresh interpreter: this process has imported experiments.sweep (other tests), whose
# flags would be counted. Prints {module: [flag names]} for every experiments.* module that
# defined an absl flag, after importing the engine, the claims' trained runs and every claim.
_FLAGS_DEFINED = """
import importlib, json
from absl import flags
import experiments.engine, experiments.claims.trained_runs
from experiments.claims.__main__ import CLAIMS
for module in CLAIMS.values():
    importlib.import_module(module)
print(json.dumps({module: [flag.name for flag in defined]
                  for module, defined in flags.FLAGS.flags_by_module_dict().items()
                  if module.startswith("experiments")}))
"""


def test_importing_the_engine_and_the_claims_defines_no_flag():
    out = subprocess.run([sys.executable, "-c", _FLAGS_DEFINED], capture_output=True, text=True,
                         check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}
