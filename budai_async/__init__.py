"""budai_async."""
