"""Durable receiver for Refiner webhooks, and the SQLite store the tap's ``webhook_events`` reads.

``event`` (columns + dedupe key), ``store`` (SQLite), ``writer`` (group commit), ``app`` (HTTP),
``server`` (uvicorn; the ``webhooks`` extra), ``__main__`` (``refiner-webhooks serve``).
"""
