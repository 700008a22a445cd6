"""One config per claim of the evidence report (experiments/claims); get_config(size) with size
in ("default", "quick")."""
