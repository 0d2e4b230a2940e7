"""SkyShare bus."""
