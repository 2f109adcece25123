"""Generates the synchronous client (`client.py`) from the asyncio one (`aio.py`).

`aio.py` is the one source of both clients. Run `.venv/bin/python clients/python/unasync.py`
(`make generate` does) after changing it, and commit `client.py`; `--check` only reports whether
`client.py` is what this script writes (exit status 1 when it is not).

The rewrite is textual, like httpcore's unasync script: first the few passages that only one
flavour can say (`SYNC_TEXT`: each must occur exactly once in `aio.py`, so an edit there that
moves one fails here instead of slipping through), then word-level substitutions (`SUBS`:
`async def` → `def`, `await x` → `x`, `AsyncClient` → `Client`, …), then ruff drops the imports
only the async code used, sorts the rest and formats the result with the client's settings.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "src" / "agent_sessions_client"
SOURCE = PACKAGE / "aio.py"
TARGET = PACKAGE / "client.py"

HEADER = (
    "# Generated from aio.py by clients/python/unasync.py: do not edit (edit aio.py, then run\n"
    "# `make generate`, which regenerates this file).\n"
)

# Async text → its sync counterpart, replaced verbatim before the substitutions below.
SYNC_TEXT: tuple[tuple[str, str], ...] = (
    # The sync client has no event loop to belong to, and its generators close when dropped.
    (
        """\
    Every failure raises an `AgentSessionsError` subclass. Create the client inside the event
    loop that uses it (a grpc.aio channel belongs to one loop), and close it with
    `await client.close()` or `async with`. The list methods and `converse()` are async
    generators: a loop left early keeps its generator open until it is garbage collected,
    unless wrapped in `contextlib.aclosing`.
""",
        """\
    Every failure raises an `AgentSessionsError` subclass. The client is thread-safe; close it
    (or use it as a context manager) to close the channel.
""",
    ),
    (
        """\
        retries included. Leaving the loop early cancels the call once the iterator is closed
        (`contextlib.aclosing` closes it at once).
""",
        """\
        retries included, and leaving the loop early cancels the call.
""",
    ),
    # The sync client runs the tools in its own thread; the async one awaits them.
    (
        "toolbox.answer_async(call)",
        "toolbox.answer(call)",
    ),
    # Only the async client accepts an async token provider.
    (
        """\
        if inspect.isawaitable(token):
            token = await token
""",
        "",
    ),
)

# (pattern, replacement), applied in order to whole words; the first ones are more specific.
SUBS: tuple[tuple[str, str], ...] = (
    (r"AsyncGenerator\[(.+?), None\]", r"Generator[\1, None, None]"),
    (r"AsyncGenerator", "Generator"),
    (r"str \| Awaitable\[str\]", "str"),
    (r"a sync or async callable", "a callable"),
    (r"An asyncio client", "A synchronous client"),
    (r"The asyncio client", "The synchronous client"),
    # An async generator cannot `yield from` (a plain iterable); the sync one can, and closes
    # the inner generator with the outer one, which the async one needs `aclosing` for.
    (
        r"async with contextlib\.aclosing\((\w+)\):\n\s+async for (\w+) in \1:\n\s+yield \2\n",
        r"yield from \1\n",
    ),
    (r"(?<!async )for (\w+) in ([\w.]+):\n\s+yield \1\n", r"yield from \2\n"),
    (r"async def", "def"),
    (r"async with", "with"),
    (r"async for", "for"),
    (r"await ", ""),
    (r"close\(grace=None\)", "close()"),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"aclosing", "closing"),
    (r"import asyncio", "import time"),
    (r"asyncio\.sleep", "time.sleep"),
    (r"grpc\.aio", "grpc"),
    (r"Async([A-Z]\w*)", r"\1"),
)
COMPILED = tuple((re.compile(rf"\b{pattern}"), repl) for pattern, repl in SUBS)


def ruff(args: list[str], text: str) -> str:
    """Runs ruff on `text` as if it were `client.py`, so the client's ruff settings apply."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"ruff {args[0]} failed on the generated client:\n{result.stderr}")
    return result.stdout


def render(source: str) -> str:
    """The sync client's source, from the async client's."""
    for async_text, sync_text in SYNC_TEXT:
        count = source.count(async_text)
        if count != 1:
            raise SystemExit(
                f"aio.py holds this passage {count} times instead of once; update SYNC_TEXT in "
                f"clients/python/unasync.py:\n{async_text}"
            )
        source = source.replace(async_text, sync_text)
    for pattern, repl in COMPILED:
        source = pattern.sub(repl, source)
    source = ruff(["check", "--fix-only", "--select", "F401,F811,I"], HEADER + source)
    return ruff(["format"], source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if client.py differs, writing nothing"
    )
    args = parser.parse_args()
    generated = render(SOURCE.read_text(encoding="utf-8"))
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else None
    if args.check:
        if generated != current:
            raise SystemExit(f"{TARGET} differs from what unasync.py makes of aio.py")
        return
    if generated != current:
        TARGET.write_text(generated, encoding="utf-8")
    print(f"generated {TARGET.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
