"""Vector stores (and the run state kept beside them), one module or package per store."""
