"""The LanceDB store: chunk table, ledger and run tables, pinned-version export."""
