"""Stage 3, rendering: the MJML newsletter, plain text, calendar files, social drafts, web archive."""
