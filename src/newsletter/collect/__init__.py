"""Stage 1, collection: fetch sources (HTTP with bounds), parse feeds and pages, French dates."""
