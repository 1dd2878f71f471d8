"""docflow's Prefect deployments: the registry (registry.py), prefect.yaml generated from it,
`docflow deploy`'s steps (deploy.py) and the one-process alternative to a worker (serve.py)."""
