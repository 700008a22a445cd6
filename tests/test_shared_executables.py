"""A claim's units share executables (engine.compile_group's `shared`): two units of one claim are
the same program on another data split, so the second reuses the first's executables without
tracing. Checked here: the units' programs lower to the same text (so sharing them cannot change a
number), the shared and the fresh runs agree bit for bit, and what differs in structure is not
shared."""

from __future__ import annotations

import numpy as np
import pytest

from configs.claims import claim4_classification as claim4_config
from configs.claims import claim10_label_noise as claim10_config
from configs.claims import claim11_many_classes as claim11_config
from experiments import engine
from experiments.claims import claim10_label_noise as claim10
from experiments.claims import claim11_many_classes as claim11
from experiments.claims import classifier_runs, trained_runs


def _short(config):
    c = config.copy_and_resolve_references()
    c.steps, c.log_every = 20, 10
    return c


UNIT_CONFIGS = {  # claim -> unit u's config, the claim's own unit_config at a short budget
    "claim4": lambda u: classifier_runs.unit_config(_short(claim4_config.get_config("quick")), u),
    "claim10": lambda u: claim10.unit_config(_short(claim10_config.get_config("quick")), u,
                                             "symmetric", (0.0, 0.4)),
    "claim11": lambda u: claim11.unit_config(_short(claim11_config.get_config("quick")), u),
}


@pytest.fixture
def lowered_texts(monkeypatch):
    """Every program lowered while the fixture is active, as text, in order."""
    texts = []
    lower = engine.CompiledGroup.lower

    def recording(self, hyper, data):
        for lowered, options in lower(self, hyper, data):
            texts.append(lowered.as_text())
            yield lowered, options

    monkeypatch.setattr(engine.CompiledGroup, "lower", recording)
    return texts


def _numbers(groups) -> list[np.ndarray]:
    return [np.asarray(leaf) for g in groups
            for leaf in [*np.asarray(g.metrics["val_accuracy"]).ravel(),
                         *(np.ravel(x) for x in _leaves(g.params))]]


def _leaves(tree):
    import jax

    return jax.tree.leaves(tree)


@pytest.mark.parametrize("claim", sorted(UNIT_CONFIGS))
def test_units_lower_to_one_program_and_share_it_bit_for_bit(claim, lowered_texts):
    unit_config = UNIT_CONFIGS[claim]
    fresh = trained_runs.train(unit_config(1), on_validation=True)  # unit 1 on its own
    fresh_texts = list(lowered_texts)
    lowered_texts.clear()
    shared: dict = {}
    trained_runs.train(unit_config(0), on_validation=True, shared=shared)
    assert lowered_texts == fresh_texts  # unit 0's programs are unit 1's, text for text
    assert len(shared) == len(fresh_texts) // len(engine.CompiledGroup.PIECES)
    lowered_texts.clear()
    reused = trained_runs.train(unit_config(1), on_validation=True, shared=shared)
    assert lowered_texts == []  # nothing traced: every program came from unit 0
    for a, b in zip(_numbers(fresh), _numbers(reused), strict=True):
        np.testing.assert_array_equal(a, b)
    # ... and the data really differ between the units (else the test would prove nothing)
    assert not np.array_equal(np.asarray(fresh[0].dataset.x_train),
                              np.asarray(trained_runs.train(unit_config(0), on_validation=True,
                                                            shared=shared)[0].dataset.x_train))


def test_a_program_of_another_structure_is_not_shared(lowered_texts):
    shared: dict = {}
    config = UNIT_CONFIGS["claim4"](0)
    trained_runs.train(config, on_validation=True, shared=shared)
    first = len(lowered_texts)
    longer = config.copy_and_resolve_references()
    longer.steps = 30
    trained_runs.train(longer, on_validation=True, shared=shared)
    assert len(lowered_texts) == 2 * first  # traced again: another program
    assert len(shared) == 2 * first // len(engine.CompiledGroup.PIECES)
