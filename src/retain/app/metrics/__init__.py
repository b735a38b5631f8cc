"""The service's metrics domain."""
