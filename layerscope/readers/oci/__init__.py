"""layerscope.readers.oci."""
