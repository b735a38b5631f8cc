"""Playbooks over HTTP: the loaded book, a dry run at a date, and each playbook's measured lift."""
