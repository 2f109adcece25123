"""The OpenAI Agents SDK agent, by job: `agent` (a turn's run), `stream` (the SDK's events as
ours), `errors` (model API failures as ModelErrors), `tracing` (the SDK's trace export).

Nothing is imported here: the registry imports `agent` only when AGENT_SESSIONS_AGENT=openai.
"""
