"""The service's models domain."""
