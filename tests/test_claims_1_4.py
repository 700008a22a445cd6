"""Claims 1 and 4's configs: every size expands to a grid, an unknown size is refused.

The claims' rules and experiments are tested in tests/test_claim1_smoothness.py and
tests/test_claim4.py.
"""

from __future__ import annotations

import pytest

from configs.claims import claim1_smoothness as claim1_config
from configs.claims import claim4_classification as claim4_config
from experiments import grid


@pytest.mark.parametrize("module", [claim1_config, claim4_config])
def test_claim_configs_expand_and_reject_unknown_sizes(module):
    for size in module.SIZES:
        groups = grid.expand(module.get_config(size))
        assert sum(len(g.runs) for g in groups) > 0
    with pytest.raises(ValueError, match="'huge'"):
        module.get_config("huge")
