"""Children that Linux stops when their supervisor dies, even by SIGKILL (PR_SET_PDEATHSIG).

    python -m agent_sessions.ops.deathsig PARENT_PID PROGRAM [ARG...]

asks for the signal, then execs PROGRAM: the request survives exec, and the child is PROGRAM
itself (same pid), not a wrapper around it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """Asks Linux to SIGTERM this process when its parent dies; elsewhere does nothing.

    With `parent_pid`, a parent that died before the request took effect is noticed too.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def command(argv: Sequence[str]) -> list[str]:
    """`argv` run so that it dies with the process calling this."""
    return [sys.executable, "-m", __name__, str(os.getpid()), *argv]


def main() -> None:
    parent_pid, program, *args = sys.argv[1:]
    die_with_parent(int(parent_pid))
    os.execvp(program, [program, *args])


if __name__ == "__main__":
    main()
