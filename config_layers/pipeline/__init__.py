"""The build pipeline after the layers: merging them with history, then the normalization pass."""
