"""Per-document checkpoints kept as Prefect result records."""
