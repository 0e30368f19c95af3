"""The repositories (``_async.repositories`` is the source; ``_sync.repositories``
is generated from it)."""
