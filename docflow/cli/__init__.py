"""The `docflow` command: the top layer, over the service, flows and deployments."""
