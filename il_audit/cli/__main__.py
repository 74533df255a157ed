"""``python -m il_audit.cli`` runs the ``il-audit`` command."""

from il_audit.cli import main

main()
