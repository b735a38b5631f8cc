"""The service's audit domain."""
