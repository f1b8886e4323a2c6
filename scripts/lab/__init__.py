"""The lab harness: see __main__.py."""
