"""Prefect flows: thin wrappers over the `newsletter` package."""
