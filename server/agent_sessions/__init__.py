"""Agent Sessions: keeps AI-agent conversations behind a gRPC API backed by PostgreSQL."""
