"""SkyShare api."""
