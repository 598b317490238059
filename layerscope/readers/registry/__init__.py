"""layerscope.readers.registry."""
