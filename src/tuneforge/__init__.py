"""tuneforge: examples of one task in, an evaluated fine-tuned model variant out."""

__version__ = "0.1.0"
