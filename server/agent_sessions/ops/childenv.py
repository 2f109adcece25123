"""The environment of the children that are not the service (Envoy, PostgreSQL): a minimal one.

The supervisor's own environment holds the service's secrets (the model API key, MCP headers,
the JWT secret, the database URL); a child that needs none of them gets none of them, so a
crash dump, a debug endpoint or /proc/PID/environ of Envoy or PostgreSQL cannot show them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# What a program needs to find its files, its user and its locale; the Python ones so the
# deathsig wrapper and Envoy's Python launcher find their modules as the supervisor did.
KEPT = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "PYTHONPATH",
        "VIRTUAL_ENV",
    }
)


def child_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (the process's by default) without anything but KEPT and the locale's LC_*."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k in KEPT or k.startswith("LC_")}
