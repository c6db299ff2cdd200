"""Stage 4, the outbox: draft folders and the one guarded status transition."""
