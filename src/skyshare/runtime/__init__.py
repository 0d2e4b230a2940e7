"""SkyShare runtime."""
