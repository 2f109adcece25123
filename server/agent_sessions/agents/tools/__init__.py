"""Server tools: the MCP servers of AGENT_SESSIONS_MCP_SERVERS, shared by every turn of a worker.

Modules by job: `config` (the setting), `allowlist` (a session's `server_tools`, no SDK: the
session service imports it), `access` (which users may use a server, by their token's claims;
no SDK), `connection` (one server's connection), `user_header` (the caller's user id on each
tool call), `turn_view` (what one turn gets of it), `servers` (all of them), `names` (tool name
clashes), `output` (tool outputs as text), `errors` (a lost server). Nothing is imported here,
so importing one of them imports neither the Agents SDK nor the MCP client unless that module
needs them.
"""
