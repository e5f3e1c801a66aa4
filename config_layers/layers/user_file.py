"""Layer 4, ``user_file``: the artist's override TOML."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from config_layers.cache import FileCache
from config_layers.documents import Document
from config_layers.errors import FileError
from config_layers.layers.base import Layer, empty_layer, file_layer
from config_layers.stacks import LEGACY_KEYS, LocatedEntry, promote_legacy


def locate_user_file(explicit: Path | None, environ: Mapping[str, str], prefix: str) -> tuple[Path | None, bool, str]:
    """Which user file to read: the explicit argument, else ``<PREFIX>_USER_FILE``, else
    ``<platform user config dir>/stablenew/user.toml`` if it exists.

    Returns ``(path, required, how)``: a file named explicitly or by the variable must
    exist; the platform default is optional.
    """
    if explicit is not None:
        return Path(explicit), True, "given explicitly"
    variable = f"{prefix}_USER_FILE"
    if environ.get(variable):
        return Path(environ[variable]), True, f"named by {variable}"
    default = platform_user_file()
    try:
        present = default.is_file()
    except OSError as exc:  # the config folder cannot be entered: a user file there may hold overrides
        raise FileError(default, f"cannot check for the user file: {exc.strerror or exc}") from None
    return (default, False, "platform default") if present else (None, False, str(default))


def platform_user_file() -> Path:
    """``<platform user config dir>/stablenew/user.toml``: the user file when none is named."""
    from platformdirs import user_config_path  # only when no user file is named

    return user_config_path("stablenew", appauthor=False) / "user.toml"


def user_file_layer(document: Document, without: tuple[str, ...] = ()) -> Layer:
    """The user file as a layer; ``without`` names top-level keys that are not config keys
    (the legacy ``lora``/``lora_scale``, which become a one-entry LoRA stack)."""
    layer = file_layer("user_file", document)
    if not without:
        return layer
    data = {key: value for key, value in document.data.items() if key not in without}
    return Layer(layer.name, data, layer.origin_of, layer.sources, layer.notes)


def no_user_file_layer(looked_at: str) -> Layer:
    return empty_layer("user_file", (f"no user file; looked at {looked_at}",))


def read_user_layer(
    explicit: Path | None, environ: Mapping[str, str], prefix: str, documents: FileCache[Document]
) -> tuple[Layer, LocatedEntry | None]:
    """The user file's layer (read through ``documents``), and its legacy flat ``lora``/``lora_scale``
    keys promoted to a one-entry stack (they are not config keys, so they leave the layer's data)."""
    path, required, how = locate_user_file(explicit, environ, prefix)
    if path is None:
        return no_user_file_layer(how), None
    if not required and not path.is_file():
        return no_user_file_layer(str(path)), None
    document = documents.get(path)
    if not any(key in document.data for key in LEGACY_KEYS):
        return user_file_layer(document), None
    return user_file_layer(document, without=LEGACY_KEYS), promote_legacy(document, document.data)
