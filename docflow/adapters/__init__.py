"""Adapters behind the ports of docflow.ports: sources, parsers, embedders, stores, checkpoints."""
