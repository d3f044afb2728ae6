"""`voxray improve`: an archive improves its own model (pseudo-labels, fine-tuning, a gate, a registry)."""
