"""layerscope.readers.sif."""
