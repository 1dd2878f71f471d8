"""The pipeline core: plain functions and typed models. It imports no Prefect, no store or
source library and no adapter; see ARCHITECTURE.md for the direction of dependencies."""
