"""PostgreSQL storage: the schema, the engine and the owner-scoped repositories."""
