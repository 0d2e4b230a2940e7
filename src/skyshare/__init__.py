"""SkyShare: dispatch and airspace coordination for a shared emergency-services drone network."""

__version__ = "0.1.0"
