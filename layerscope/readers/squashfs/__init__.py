"""layerscope.readers.squashfs."""
