"""``python -m retain`` runs the command line."""

from retain.cli import main

main()
