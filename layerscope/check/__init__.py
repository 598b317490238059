"""layerscope.check."""
