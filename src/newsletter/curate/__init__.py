"""Stage 2, curation: duplicates, categories, history, the issue's sections."""
