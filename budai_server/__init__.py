"""budai_server."""
