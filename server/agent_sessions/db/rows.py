"""psycopg row factories that build the domain's dataclasses straight from result rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from psycopg.rows import RowMaker

from agent_sessions.domain import Message, Session

T = TypeVar("T")


def positional(cls: Callable[..., T]) -> Callable[[Any], RowMaker[T]]:
    """A row factory calling `cls` with the row's values in column order.

    The statements select exactly the dataclass's fields in its order (`SESSION_COLUMNS`,
    `MESSAGE_COLUMNS`), so no column name lookup is needed per row.
    """

    def factory(_cursor: Any) -> RowMaker[T]:
        def make(values: Sequence[Any]) -> T:
            return cls(*values)

        return make

    return factory


SESSION_ROW = positional(Session)
MESSAGE_ROW = positional(Message)
