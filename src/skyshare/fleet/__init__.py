"""SkyShare fleet."""
