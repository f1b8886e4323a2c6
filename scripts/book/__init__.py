"""The book's renderer and check: see __main__.py."""
