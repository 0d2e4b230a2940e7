"""SkyShare dispatch."""
