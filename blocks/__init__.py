"""docflow's Prefect blocks. `prefect block register -m blocks` registers every class listed
here (Prefect looks for Block subclasses among this module's attributes)."""

from blocks.config import DocumentSource, Embedder, LanceDBTarget, RetryPoliciesBlock

BLOCK_TYPES = (LanceDBTarget, Embedder, DocumentSource, RetryPoliciesBlock)

__all__ = ["BLOCK_TYPES", "DocumentSource", "Embedder", "LanceDBTarget", "RetryPoliciesBlock"]
