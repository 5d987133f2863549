"""Data in: formats, validation, splitting."""
