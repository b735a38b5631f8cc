"""The service's customers domain."""
