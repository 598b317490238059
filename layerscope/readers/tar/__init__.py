"""layerscope.readers.tar."""
