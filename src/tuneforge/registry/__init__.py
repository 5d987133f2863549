"""The model registry: every variant with its lineage, stage and evaluation results."""
