"""The fine-tuning control plane behind OpenAI's files and jobs API: storage, queue, worker, executors."""
