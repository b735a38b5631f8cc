"""The service's ingest domain."""
