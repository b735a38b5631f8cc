"""Complaints and the save desk over HTTP: the API and the customer's ticket status page."""
