"""The gRPC servicers: each call converts its request, calls one service method, converts back."""

from agent_sessions.api.servicers.messages import MessageServicer
from agent_sessions.api.servicers.sessions import SessionServicer

__all__ = ["MessageServicer", "SessionServicer"]
