"""Stage 5, delivery: sending an approved draft through a Messenger (file, SMTP)."""
