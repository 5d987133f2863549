"""OpenAI-compatible HTTP server: many LoRA variants on one base, batched together."""
