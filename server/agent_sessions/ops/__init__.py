"""Running the service: one supervisor, the dev stack (PostgreSQL, Envoy) and readiness waits."""
