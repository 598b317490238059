"""layerscope.readers.ext3."""
