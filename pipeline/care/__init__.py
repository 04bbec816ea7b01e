"""Care engine: safety and responses."""
