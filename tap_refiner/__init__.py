"""Singer tap for the Refiner API (refiner.io), built on the Meltano Singer SDK."""
