"""Document sources: local files and fsspec URLs."""
