"""target-refiner: a Singer target that does reverse ETL into Refiner (refiner.io)."""
