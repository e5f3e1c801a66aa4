"""What a built config becomes: provenance dumps (JSON, TOML, table) and WebUI payloads."""
