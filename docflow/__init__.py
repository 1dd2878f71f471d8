"""docflow: resumable document ingestion for retrieval, orchestrated by Prefect 3.

Importing the package pins the process to offline, quiet behaviour before unstructured,
transformers or huggingface_hub are imported anywhere (see docflow.env)."""

from docflow.env import apply_offline_env

apply_offline_env()
