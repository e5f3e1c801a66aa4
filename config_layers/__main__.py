"""``python -m config_layers`` runs the CLI."""

from config_layers.entry import main

main()
