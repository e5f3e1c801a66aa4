"""Resolving a model or LoRA file to its priors: sidecar, foreign metadata and profile library, combined."""
