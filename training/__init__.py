"""Training scripts. Nothing in the app imports this package."""
