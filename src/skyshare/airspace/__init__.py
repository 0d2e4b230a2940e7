"""SkyShare airspace."""
