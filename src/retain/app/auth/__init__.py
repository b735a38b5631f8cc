"""The service's auth domain."""
