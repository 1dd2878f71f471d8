"""What the docflow command calls: runs (ingest, sync, export) and questions about a table
(status, verify, search, exports, import, recent runs). The CLI parses arguments, builds the
settings once and prints; everything it does goes through here, never through flows' or the
pipeline's internals."""
