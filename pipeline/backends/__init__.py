"""Stage backends. Each module is imported only when the registry picks it."""
