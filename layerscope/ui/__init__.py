"""The Textual UI (the only package allowed to import textual)."""
