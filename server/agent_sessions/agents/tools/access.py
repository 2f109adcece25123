"""Which users may use an MCP server: its `allow_claims`, matched against the caller's token.

A server without `allow_claims` is open to every user. With it, a user may use the server when
every claim it names matches: the token's claim equals one of the values listed for it, or, when
the token's claim is a list, holds one of them. Values are compared exactly (case and type: the
string "true" is not the boolean true); a claim the token lacks matches nothing. To everyone
else the server does not exist: sessions naming it are refused as naming an unknown server, and
their turns never see its tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_sessions.domain import Owner

# A value a claim may be required to have (JSON scalars; numbers as integers).
ClaimValue = str | int | bool
# A server's `allow_claims`: claim name → the values any one of which lets a user in.
ClaimRule = Mapping[str, tuple[ClaimValue, ...]]


def _same(claim: Any, wanted: ClaimValue) -> bool:
    # bool is an int in Python: true must not match 1.
    return type(claim) is type(wanted) and claim == wanted


def _matches(claim: Any, wanted: tuple[ClaimValue, ...]) -> bool:
    if isinstance(claim, list):
        return any(_same(item, value) for item in claim for value in wanted)
    return any(_same(claim, value) for value in wanted)


def claims_allow(rule: ClaimRule | None, claims: Mapping[str, Any]) -> bool:
    """Whether a user with these token claims may use a server with this `allow_claims`."""
    if rule is None:
        return True
    return all(_matches(claims.get(name), wanted) for name, wanted in rule.items())


@dataclass(frozen=True)
class ToolServerAccess:
    """The configured servers' names, in order, and who may use each (None: everyone)."""

    rules: Mapping[str, ClaimRule | None]

    @classmethod
    def open_to_all(cls, names: Iterable[str]) -> ToolServerAccess:
        return cls({name: None for name in names})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.rules)

    def names_for(self, owner: Owner) -> tuple[str, ...]:
        """The servers this user may use: the only ones that exist as far as they can tell."""
        return tuple(name for name, rule in self.rules.items() if claims_allow(rule, owner.claims))


def access_of(servers: Sequence[str] | ToolServerAccess) -> ToolServerAccess:
    """Access rules from rules, or from bare names (every server open to everyone)."""
    if isinstance(servers, ToolServerAccess):
        return servers
    return ToolServerAccess.open_to_all(servers)


__all__ = ["ClaimRule", "ClaimValue", "ToolServerAccess", "access_of", "claims_allow"]
