"""Services: the rules of each call and its transaction boundary, on the domain's types.

Nothing here knows gRPC: the API layer converts protos to these calls and their results back.
"""

from agent_sessions.services.messages import MessageService
from agent_sessions.services.sessions import SessionService
from agent_sessions.services.turns import TurnService

__all__ = ["MessageService", "SessionService", "TurnService"]
