"""``python -m config_layers`` runs the CLI."""

from config_layers.cli import main

main()
