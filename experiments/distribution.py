"""Moved to experiments.parts (processes and shards; "distribution" read as a noise
distribution in this codebase): this name is kept for old imports and can go later."""

from experiments.parts import *  # noqa: F403
