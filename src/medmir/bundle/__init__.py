"""The index bundle: writing, reading, verifying; exact neighbours; fallback results."""
