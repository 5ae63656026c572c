"""Writing ``modelport.toml`` files with tomlkit (the standard library only reads TOML).

``modelport add`` writes the settings it inferred as an ordinary ``modelport.toml`` that a
person can read and edit, and edits a given folder's file in place with its comments and
layout kept.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

import tomlkit


def dumps(settings: Mapping[str, Any], header: Sequence[str] = ()) -> str:
    """``settings`` as TOML, with ``header`` as comments on top; None values are left out."""
    document = tomlkit.document()
    for line in header:
        document.add(tomlkit.comment(line))
    document.update(_without_none(settings))
    text = tomlkit.dumps(document)
    tomllib.loads(text)  # what reaches the store is TOML the server reads
    return text


def set_top_level(text: str, name: str, item: Any) -> str:
    """``text`` with the top-level key ``name`` set to ``item``, comments and layout kept."""
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ValueError(f"the file is not valid TOML: {exc}") from None
    document[name] = list(item) if isinstance(item, tuple) else item
    return tomlkit.dumps(document)


def _without_none(item: Any) -> Any:
    if isinstance(item, Mapping):
        return {k: _without_none(v) for k, v in item.items() if v is not None}
    if isinstance(item, list | tuple):
        return [_without_none(v) for v in item]
    return item
