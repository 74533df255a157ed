"""Local stand-ins for Google Cloud services: used by ``il-audit dev``, the tests and CI."""
