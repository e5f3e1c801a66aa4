"""Where every value came from: origins, the merge history and the per-leaf provenance report."""
