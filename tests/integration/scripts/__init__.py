"""Programs the integration tests run in their own processes (fork, exit paths)."""
