import datetime

from agent_sessions_client._proto.agentsessions.v1 import resources_pb2 as _resources_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IfBusy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    if_busy_unspecified: _ClassVar[IfBusy]
    enqueue: _ClassVar[IfBusy]
    reject: _ClassVar[IfBusy]
    interrupt: _ClassVar[IfBusy]

class TurnStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    turn_status_unspecified: _ClassVar[TurnStatus]
    queued: _ClassVar[TurnStatus]
    running: _ClassVar[TurnStatus]
    completed: _ClassVar[TurnStatus]
    failed: _ClassVar[TurnStatus]
    cancelled: _ClassVar[TurnStatus]
    lost: _ClassVar[TurnStatus]
if_busy_unspecified: IfBusy
enqueue: IfBusy
reject: IfBusy
interrupt: IfBusy
turn_status_unspecified: TurnStatus
queued: TurnStatus
running: TurnStatus
completed: TurnStatus
failed: TurnStatus
cancelled: TurnStatus
lost: TurnStatus

class ListSessionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "is_active", "agent_name", "label")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    is_active: bool
    agent_name: str
    label: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., is_active: _Optional[bool] = ..., agent_name: _Optional[str] = ..., label: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token", "total_size")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Session]
    next_page_token: str
    total_size: int
    def __init__(self, sessions: _Optional[_Iterable[_Union[_resources_pb2.Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("session_id", "session_name", "description", "agent_name", "agent_instructions", "is_active", "model", "server_tools", "request_id", "labels", "expire_time", "ttl")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    IS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SERVER_TOOLS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session_name: str
    description: str
    agent_name: str
    agent_instructions: str
    is_active: bool
    model: str
    server_tools: str
    request_id: str
    labels: _containers.ScalarMap[str, str]
    expire_time: _timestamp_pb2.Timestamp
    ttl: int
    def __init__(self, session_id: _Optional[str] = ..., session_name: _Optional[str] = ..., description: _Optional[str] = ..., agent_name: _Optional[str] = ..., agent_instructions: _Optional[str] = ..., is_active: _Optional[bool] = ..., model: _Optional[str] = ..., server_tools: _Optional[str] = ..., request_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ttl: _Optional[int] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class UpdateSessionRequest(_message.Message):
    __slots__ = ("session_id", "session_name", "description", "agent_name", "agent_instructions", "is_active", "model", "server_tools", "request_id", "etag", "labels", "expire_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    IS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SERVER_TOOLS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session_name: str
    description: str
    agent_name: str
    agent_instructions: str
    is_active: bool
    model: str
    server_tools: str
    request_id: str
    etag: str
    labels: _struct_pb2.Struct
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., session_name: _Optional[str] = ..., description: _Optional[str] = ..., agent_name: _Optional[str] = ..., agent_instructions: _Optional[str] = ..., is_active: _Optional[bool] = ..., model: _Optional[str] = ..., server_tools: _Optional[str] = ..., request_id: _Optional[str] = ..., etag: _Optional[str] = ..., labels: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id", "request_id", "etag")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_id: str
    etag: str
    def __init__(self, session_id: _Optional[str] = ..., request_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ActivateSessionRequest(_message.Message):
    __slots__ = ("session_id", "request_id", "etag")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_id: str
    etag: str
    def __init__(self, session_id: _Optional[str] = ..., request_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeactivateSessionRequest(_message.Message):
    __slots__ = ("session_id", "request_id", "etag")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_id: str
    etag: str
    def __init__(self, session_id: _Optional[str] = ..., request_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ForkSessionRequest(_message.Message):
    __slots__ = ("session_id", "new_session_id", "up_to_message_id", "session_name", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    UP_TO_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    new_session_id: str
    up_to_message_id: str
    session_name: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., new_session_id: _Optional[str] = ..., up_to_message_id: _Optional[str] = ..., session_name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RewindSessionRequest(_message.Message):
    __slots__ = ("session_id", "after_message_id", "request_id", "etag", "expected_seq")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SEQ_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_message_id: str
    request_id: str
    etag: str
    expected_seq: int
    def __init__(self, session_id: _Optional[str] = ..., after_message_id: _Optional[str] = ..., request_id: _Optional[str] = ..., etag: _Optional[str] = ..., expected_seq: _Optional[int] = ...) -> None: ...

class ConversationMessage(_message.Message):
    __slots__ = ("role", "content", "tool_call_id", "tool_name", "extra_data")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    EXTRA_DATA_FIELD_NUMBER: _ClassVar[int]
    role: _resources_pb2.Role
    content: str
    tool_call_id: str
    tool_name: str
    extra_data: str
    def __init__(self, role: _Optional[_Union[_resources_pb2.Role, str]] = ..., content: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., extra_data: _Optional[str] = ...) -> None: ...

class ConversationRequest(_message.Message):
    __slots__ = ("messages", "session_id", "session_name", "agent_name", "agent_instructions", "model", "tools", "server_tools", "request_id", "expected_seq", "if_busy", "detach")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TOOLS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SEQ_FIELD_NUMBER: _ClassVar[int]
    IF_BUSY_FIELD_NUMBER: _ClassVar[int]
    DETACH_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ConversationMessage]
    session_id: str
    session_name: str
    agent_name: str
    agent_instructions: str
    model: str
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    server_tools: str
    request_id: str
    expected_seq: int
    if_busy: IfBusy
    detach: bool
    def __init__(self, messages: _Optional[_Iterable[_Union[ConversationMessage, _Mapping]]] = ..., session_id: _Optional[str] = ..., session_name: _Optional[str] = ..., agent_name: _Optional[str] = ..., agent_instructions: _Optional[str] = ..., model: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., server_tools: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_seq: _Optional[int] = ..., if_busy: _Optional[_Union[IfBusy, str]] = ..., detach: _Optional[bool] = ...) -> None: ...

class ConversationResponse(_message.Message):
    __slots__ = ("session_id", "session_uuid", "response", "messages_count", "session_active", "stop_reason", "pending_tool_calls", "usage", "turn_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_UUID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_COUNT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    PENDING_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session_uuid: str
    response: str
    messages_count: int
    session_active: bool
    stop_reason: str
    pending_tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    usage: Usage
    turn_id: str
    def __init__(self, session_id: _Optional[str] = ..., session_uuid: _Optional[str] = ..., response: _Optional[str] = ..., messages_count: _Optional[int] = ..., session_active: _Optional[bool] = ..., stop_reason: _Optional[str] = ..., pending_tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., turn_id: _Optional[str] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ("name", "description", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("tool_call_id", "name", "arguments")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    name: str
    arguments: str
    def __init__(self, tool_call_id: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[str] = ...) -> None: ...

class ToolResult(_message.Message):
    __slots__ = ("tool_call_id", "name", "output")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    name: str
    output: str
    def __init__(self, tool_call_id: _Optional[str] = ..., name: _Optional[str] = ..., output: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "total_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ...) -> None: ...

class ConverseRequest(_message.Message):
    __slots__ = ("messages", "session_id", "session_name", "agent_name", "agent_instructions", "model", "tools", "server_tools", "request_id", "expected_seq", "if_busy", "detach")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TOOLS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SEQ_FIELD_NUMBER: _ClassVar[int]
    IF_BUSY_FIELD_NUMBER: _ClassVar[int]
    DETACH_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ConversationMessage]
    session_id: str
    session_name: str
    agent_name: str
    agent_instructions: str
    model: str
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    server_tools: str
    request_id: str
    expected_seq: int
    if_busy: IfBusy
    detach: bool
    def __init__(self, messages: _Optional[_Iterable[_Union[ConversationMessage, _Mapping]]] = ..., session_id: _Optional[str] = ..., session_name: _Optional[str] = ..., agent_name: _Optional[str] = ..., agent_instructions: _Optional[str] = ..., model: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., server_tools: _Optional[str] = ..., request_id: _Optional[str] = ..., expected_seq: _Optional[int] = ..., if_busy: _Optional[_Union[IfBusy, str]] = ..., detach: _Optional[bool] = ...) -> None: ...

class ConverseStarted(_message.Message):
    __slots__ = ("session_id", "session_uuid", "turn_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_UUID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session_uuid: str
    turn_id: str
    def __init__(self, session_id: _Optional[str] = ..., session_uuid: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...

class ConverseQueued(_message.Message):
    __slots__ = ("turn_id", "position")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    position: int
    def __init__(self, turn_id: _Optional[str] = ..., position: _Optional[int] = ...) -> None: ...

class ConverseDelta(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class ConverseEvent(_message.Message):
    __slots__ = ("seq", "started", "delta", "message", "completed", "error", "tool_call", "tool_result", "queued")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    seq: int
    started: ConverseStarted
    delta: ConverseDelta
    message: _resources_pb2.Message
    completed: ConversationResponse
    error: _status_pb2.Status
    tool_call: ToolCall
    tool_result: ToolResult
    queued: ConverseQueued
    def __init__(self, seq: _Optional[int] = ..., started: _Optional[_Union[ConverseStarted, _Mapping]] = ..., delta: _Optional[_Union[ConverseDelta, _Mapping]] = ..., message: _Optional[_Union[_resources_pb2.Message, _Mapping]] = ..., completed: _Optional[_Union[ConversationResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCall, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResult, _Mapping]] = ..., queued: _Optional[_Union[ConverseQueued, _Mapping]] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("turn_id", "session_id", "status", "request_id", "created_at", "updated_at", "result", "error")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    session_id: str
    status: TurnStatus
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    result: ConversationResponse
    error: _status_pb2.Status
    def __init__(self, turn_id: _Optional[str] = ..., session_id: _Optional[str] = ..., status: _Optional[_Union[TurnStatus, str]] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[_Union[ConversationResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class GetTurnRequest(_message.Message):
    __slots__ = ("session_id", "turn_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...

class ResumeTurnRequest(_message.Message):
    __slots__ = ("session_id", "turn_id", "after_seq")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    after_seq: int
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class CancelTurnRequest(_message.Message):
    __slots__ = ("session_id", "turn_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...

class WatchSessionRequest(_message.Message):
    __slots__ = ("session_id", "after_seq")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_seq: int
    def __init__(self, session_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("seq", "message", "message_updated", "message_deleted", "cleared", "session", "deleted", "turn", "turn_delta", "heartbeat", "error")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_UPDATED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_DELETED_FIELD_NUMBER: _ClassVar[int]
    CLEARED_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    TURN_DELTA_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    seq: int
    message: _resources_pb2.Message
    message_updated: _resources_pb2.Message
    message_deleted: MessageDeleted
    cleared: MessagesCleared
    session: _resources_pb2.Session
    deleted: SessionDeleted
    turn: Turn
    turn_delta: TurnDelta
    heartbeat: Heartbeat
    error: _status_pb2.Status
    def __init__(self, seq: _Optional[int] = ..., message: _Optional[_Union[_resources_pb2.Message, _Mapping]] = ..., message_updated: _Optional[_Union[_resources_pb2.Message, _Mapping]] = ..., message_deleted: _Optional[_Union[MessageDeleted, _Mapping]] = ..., cleared: _Optional[_Union[MessagesCleared, _Mapping]] = ..., session: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ..., deleted: _Optional[_Union[SessionDeleted, _Mapping]] = ..., turn: _Optional[_Union[Turn, _Mapping]] = ..., turn_delta: _Optional[_Union[TurnDelta, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class MessageDeleted(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class MessagesCleared(_message.Message):
    __slots__ = ("deleted_count",)
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    def __init__(self, deleted_count: _Optional[int] = ...) -> None: ...

class SessionDeleted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TurnDelta(_message.Message):
    __slots__ = ("turn_id", "seq", "text")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    seq: int
    text: str
    def __init__(self, turn_id: _Optional[str] = ..., seq: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...
