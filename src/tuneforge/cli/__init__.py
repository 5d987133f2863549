"""Command-line interface. Each module is one command group; heavy libraries are imported inside commands."""
