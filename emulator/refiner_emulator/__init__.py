"""A faithful local emulator of the Refiner REST API v1 (see refiner-api.md)."""
