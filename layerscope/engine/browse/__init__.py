"""layerscope.engine.browse."""
