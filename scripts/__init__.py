"""Project scripts: the demo and the generators of plugin definitions and README tables."""
