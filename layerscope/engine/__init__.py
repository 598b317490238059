"""layerscope.engine."""
