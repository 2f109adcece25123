"""A tool's output as the text a `tool` message stores (no SDK needed)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def flatten_tool_output(value: Any) -> str:
    """A tool's output as text to store. MCP tools give content parts (the SDK's dicts such as
    `{"type": "input_text", "text": "5"}`, one or a list): their texts, one per line; an image
    or a file becomes a placeholder (`[image]`, `[file name]`); anything else, JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, Mapping) and _is_part(value):
        return _part_text(value)
    if isinstance(value, list | tuple) and value and all(_is_part(p) for p in value):
        return "\n".join(_part_text(p) for p in value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _is_part(part: Any) -> bool:
    if hasattr(part, "model_dump"):
        part = part.model_dump(exclude_none=True)
    return isinstance(part, Mapping) and isinstance(part.get("type"), str)


def _part_text(part: Any) -> str:
    if hasattr(part, "model_dump"):
        part = part.model_dump(exclude_none=True)
    kind = part.get("type")
    text = part.get("text")
    if kind in {"text", "input_text", "output_text"} and isinstance(text, str):
        return text
    if kind in {"image", "input_image"}:
        return "[image]"
    if kind in {"file", "input_file"}:
        name = part.get("filename")
        return f"[file {name}]" if isinstance(name, str) and name else "[file]"
    return json.dumps(dict(part), ensure_ascii=False, default=str)


__all__ = ["flatten_tool_output"]
