"""Tools that write files for users: sidecar templates, JSON Schemas, user-file edits.

Every write is atomic; a sidecar or schema file is never replaced without ``force``; user
files keep their comments and layout (tomlkit)."""
