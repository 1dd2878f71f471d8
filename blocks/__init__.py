"""docflow's Prefect blocks. `prefect block register -m blocks` registers every class listed
here (Prefect looks for Block subclasses among this module's attributes)."""

from blocks.config import DaskCluster, DocumentSource, Embedder, StoreTarget, RetryPoliciesBlock

BLOCK_TYPES = (StoreTarget, Embedder, DocumentSource, RetryPoliciesBlock, DaskCluster)

__all__ = ["BLOCK_TYPES", "DaskCluster", "DocumentSource", "Embedder", "StoreTarget", "RetryPoliciesBlock"]
