"""Alembic migrations of the store, applied by ``modelport.store.migrate``."""
