"""SkyShare store."""
