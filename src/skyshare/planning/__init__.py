"""SkyShare planning."""
