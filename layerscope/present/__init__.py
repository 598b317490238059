"""layerscope.present."""
