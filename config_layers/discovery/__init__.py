"""Finding files on disk: model and LoRA files in their folders, paths kept inside them, file hashes."""
