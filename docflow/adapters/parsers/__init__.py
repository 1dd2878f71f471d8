"""Parsers: unstructured partitioning, OCR for scans."""
