"""The service's segments domain."""
