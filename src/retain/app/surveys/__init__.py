"""Surveys and the cancellation flow in the service: customers' pages and the surveys API."""
