"""Async repositories: the source from which the sync ones are generated."""
