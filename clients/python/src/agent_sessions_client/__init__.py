"""A typed Python client of the Agent Sessions gRPC API, sync (`Client`) and asyncio
(`AsyncClient`), with an OpenAI Agents SDK session in `agent_sessions_client.agents_sdk`."""

from agent_sessions_client._version import __version__
from agent_sessions_client.aio import AsyncClient, AsyncTokenSource
from agent_sessions_client.client import Client, TokenSource
from agent_sessions_client.errors import (
    AgentSessionsError,
    AlreadyExistsError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    UnauthenticatedError,
    UnavailableError,
)
from agent_sessions_client.models import (
    Completed,
    ConversationMessage,
    ConversationResult,
    ConverseEvent,
    Delta,
    Message,
    MessageStored,
    Order,
    Page,
    Role,
    Session,
    Started,
)
from agent_sessions_client.retry import NO_RETRY, RetryPolicy

__all__ = [
    "NO_RETRY",
    "AgentSessionsError",
    "AlreadyExistsError",
    "AsyncClient",
    "AsyncTokenSource",
    "Client",
    "Completed",
    "ConversationMessage",
    "ConversationResult",
    "ConverseEvent",
    "Delta",
    "FailedPreconditionError",
    "FieldViolation",
    "InvalidArgumentError",
    "Message",
    "MessageStored",
    "NotFoundError",
    "Order",
    "Page",
    "RetryPolicy",
    "Role",
    "Session",
    "Started",
    "TokenSource",
    "UnauthenticatedError",
    "UnavailableError",
    "__version__",
]
