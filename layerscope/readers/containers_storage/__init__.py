"""containers-storage:NAME[:TAG]|@ID: images in a podman/buildah/CRI-O store, read in place.

The pieces, one job each:
  config    where the store is, as podman finds it (storage.conf, rootless defaults,
            `--storage-root`, skopeo's `[driver@root+runroot]` prefix)
  store     images.json and layers.json read without locks; names, IDs and layer chains
  tarsplit  a layer's tar headers from its tar-split data, as a tar stream without contents
  reader    the ImageReader: entries from tar-split, contents from the layer's directory
"""
