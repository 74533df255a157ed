"""Jobs operators run by hand (through the ``il-audit`` CLI): provisioning, dead-letter replay."""
