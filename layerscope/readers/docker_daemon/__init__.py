"""docker-daemon:NAME[:TAG]: images a Docker daemon (or `podman system service`) holds,
through the Engine API, kept in the blob cache (client.py: the API; reader.py: the image)."""
