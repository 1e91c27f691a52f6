"""The exercises' checks: one module per exercise (exercises/checks/<NAME>.py), helpers in common.py."""
