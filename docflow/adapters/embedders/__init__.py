"""Embedding backends: sentence-transformers (torch) and ONNX Runtime."""
