"""Local functions as caller tools: their `Tool` specs, and running the calls a turn stopped at.

`AsyncClient.run_tools()` and `Client.run_tools()` use these; `local_tool()` is for a tool whose
name, description or JSON Schema should not be derived from the function.

A spec is derived from the function: its docstring (up to an `Args:` section) is the
description, each `Args:` entry describes its parameter, and the parameters' annotations give
the JSON Schema: `str`, `int`, `float`, `bool`, `list[...]`/`tuple[...]`/`set[...]`, `dict`,
`Literal[...]`, an `Enum`, and `X | None` of those; anything else accepts any JSON value.
Parameters without a default are required.
"""

from __future__ import annotations

import asyncio
import collections.abc
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

from agent_sessions_client.models import ConversationMessage, Tool, ToolCall

__all__ = ["LocalTool", "ToolFunctions", "Toolbox", "function_schema", "local_tool"]


@dataclass(frozen=True)
class LocalTool:
    """A local function and the `Tool` spec the model sees for it."""

    function: Callable[..., Any]
    spec: Tool


# A Sequence, not any Iterable: a dict is an Iterable too, and type checkers then fail to infer
# `{"a": f, "b": g}` as a mapping of callables.
ToolFunctions: TypeAlias = (
    Mapping[str, Callable[..., Any] | LocalTool] | Sequence[Callable[..., Any] | LocalTool]
)
"""The tools of `run_tools()`: a mapping of tool name → function (or `LocalTool`, renamed to its
key), or a list of functions (named by `__name__`) and `LocalTool`s."""

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Yields|Raises|Examples?):\s*$")
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SCALARS: Mapping[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def local_tool(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> LocalTool:
    """The function as a caller tool. What is not given is derived from the function: the name
    from `__name__`, the description from the docstring, the parameters' JSON Schema from the
    signature (`function_schema()`)."""
    return LocalTool(
        function,
        Tool(
            name=name or function.__name__,
            description=_describe(function)[0] if description is None else description,
            parameters=function_schema(function) if parameters is None else dict(parameters),
        ),
    )


def function_schema(function: Callable[..., Any]) -> dict[str, Any]:
    """The JSON Schema object of the function's parameters (see the module's docstring)."""
    arg_docs = _describe(function)[1]
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # unresolvable annotations: no types, rather than no tool
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind == parameter.POSITIONAL_ONLY:
            raise ValueError(
                f"{function.__name__}: positional-only parameter {parameter.name!r} cannot be "
                "passed from a tool call's arguments (they are keyword arguments)"
            )
        schema = _type_schema(hints.get(parameter.name, Any))
        if arg_docs.get(parameter.name):
            schema["description"] = arg_docs[parameter.name]
        properties[parameter.name] = schema
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _describe(function: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The docstring's text before its sections, and the `Args:` descriptions by name."""
    text: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    indent: int | None = None  # of the entries of the Args section
    current: str | None = None
    for line in (inspect.getdoc(function) or "").splitlines():
        heading = _SECTION.match(line)
        if heading:
            section, indent, current = heading.group(1), None, None
        elif section is None:
            text.append(line)
        elif section in ("Args", "Arguments", "Parameters") and line.strip():
            depth = len(line) - len(line.lstrip())
            entry = _ARG.match(line.strip())
            if entry and (indent is None or depth <= indent):
                indent, current = depth, entry.group(1).lstrip("*")
                args[current] = entry.group(2).strip()
            elif current is not None:  # a continuation line
                args[current] = f"{args[current]} {line.strip()}".strip()
    return "\n".join(text).strip(), args


def _type_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of one parameter's annotation; {} (anything) when it has no simple one."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_schema(args[0])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        nullable = len(options) < len(args)
        if len(options) != 1:
            return {"anyOf": [_type_schema(a) for a in args]}
        schema = _type_schema(options[0])
        if nullable and isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
        return schema
    if origin is typing.Literal:
        schema = {"enum": list(args)}
        kinds = {_SCALARS.get(type(a)) for a in args}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    container = origin or annotation
    if container in (list, tuple, set, frozenset) or _is_abc(container, "Sequence", "Set"):
        items = [a for a in args if a is not Ellipsis]
        schema = {"type": "array"}
        if len(set(items)) == 1:
            schema["items"] = _type_schema(items[0])
        return schema
    if container is dict or _is_abc(container, "Mapping"):
        return {"type": "object"}
    return {}


def _is_abc(container: Any, *names: str) -> bool:
    return any(container is getattr(collections.abc, name) for name in names)


def _text(value: Any) -> str:
    """A function's return value as the tool's output: text as it is, anything else as JSON
    (or `str()` when it is not JSON-serializable); None is empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


class Toolbox:
    """The caller's functions by tool name, their specs, and the answers to their calls."""

    def __init__(self, tools: ToolFunctions) -> None:
        entries: list[LocalTool] = []
        if isinstance(tools, Mapping):
            for name, tool in tools.items():
                if isinstance(tool, LocalTool):
                    entries.append(replace(tool, spec=replace(tool.spec, name=name)))
                else:
                    entries.append(local_tool(tool, name=name))
        else:
            for tool in tools:
                entries.append(tool if isinstance(tool, LocalTool) else local_tool(tool))
        self._functions: dict[str, Callable[..., Any]] = {}
        for entry in entries:
            if entry.spec.name in self._functions:
                raise ValueError(f"two tools are named {entry.spec.name!r}")
            self._functions[entry.spec.name] = entry.function
        self.specs: tuple[Tool, ...] = tuple(entry.spec for entry in entries)

    def _prepare(self, call: ToolCall) -> tuple[Callable[..., Any], dict[str, Any]] | str:
        """The function and its keyword arguments, or the error text to answer with."""
        function = self._functions.get(call.name)
        if function is None:
            known = ", ".join(self._functions) or "none"
            return f"Error: there is no tool named {call.name!r} (the tools are: {known})"
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError as exc:
            return f"Error: the arguments of {call.name} are not JSON ({exc})"
        if not isinstance(arguments, dict):
            return f"Error: the arguments of {call.name} must be a JSON object"
        try:
            inspect.signature(function).bind(**arguments)
        except TypeError as exc:
            return f"Error: {call.name} cannot take these arguments ({exc})"
        except ValueError:
            pass  # no signature to check against (some builtins): the call itself will tell
        return function, arguments

    @staticmethod
    def _failed(call: ToolCall, exc: Exception) -> str:
        return f"Error: {call.name} failed: {type(exc).__name__}: {exc}"

    def answer(self, call: ToolCall) -> ConversationMessage:
        """Runs the call's function and returns the `tool` message with its output, or with the
        error text when it cannot run or raises. A coroutine function is run to completion in a
        new event loop (`asyncio.run`)."""
        prepared = self._prepare(call)
        if isinstance(prepared, str):
            return call.result(prepared)
        function, arguments = prepared
        try:
            value = function(**arguments)
            if inspect.isawaitable(value):
                value = asyncio.run(_awaited(value))
        except Exception as exc:
            return call.result(self._failed(call, exc))
        return call.result(_text(value))

    async def answer_async(self, call: ToolCall) -> ConversationMessage:
        """`answer()` in the event loop: a coroutine function is awaited, a plain one runs in a
        worker thread (`asyncio.to_thread`), so it does not block the loop."""
        prepared = self._prepare(call)
        if isinstance(prepared, str):
            return call.result(prepared)
        function, arguments = prepared
        try:
            if inspect.iscoroutinefunction(function):
                value = await function(**arguments)
            else:
                value = await asyncio.to_thread(function, **arguments)
                if inspect.isawaitable(value):
                    value = await value
        except Exception as exc:
            return call.result(self._failed(call, exc))
        return call.result(_text(value))


async def _awaited(value: typing.Awaitable[Any]) -> Any:
    return await value
