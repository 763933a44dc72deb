"""``refiner-api``: one Refiner API call from a shell, through the shared ``refiner_http``."""
