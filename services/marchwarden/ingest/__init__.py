"""Ingest: the batched consumer of the border topics, event-time alignment, checkpoints."""
