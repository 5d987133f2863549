"""Export a variant for other runtimes: merged safetensors, GGUF (llama.cpp / Ollama), each parity-checked."""
