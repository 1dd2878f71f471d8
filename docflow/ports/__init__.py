"""Ports: the interfaces the pipeline core needs from the outside world, one module each.

Adapters in docflow.adapters implement them; the core and the flows hold only these types."""
