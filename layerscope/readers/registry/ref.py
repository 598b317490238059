"""Parse `HOST/REPO[:TAG|@DIGEST]` the way docker and skopeo do.

The first path component names a registry only if it looks like a host (has a '.' or a
':' or is 'localhost'); otherwise the image lives on Docker Hub, whose API endpoint is
registry-1.docker.io and whose one-component names live under 'library/'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from layerscope.errors import UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# The reference grammar of distribution/reference, restricted to what a pull needs.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_DIGEST_ALGORITHM = re.compile(r"(?:sha256|sha384|sha512|blake3):")
_HOST = re.compile(r"(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::[0-9]+)?")


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """One image in one registry.

    host        the host[:port] the API is reached at (Docker Hub -> registry-1.docker.io)
    repository  path inside the registry ("library/alpine", "layerscope/app")
    tag         the tag asked for; "latest" when neither tag nor digest was given
    digest      the manifest digest when the reference pins one (it wins over the tag)
    """

    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the manifest URL ends with: the digest if pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """'repo:tag' or 'repo@digest', as error messages show it."""
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag}"

    @property
    def display(self) -> str:
        """The full reference, suitable as an image's `source`."""
        host = DOCKER_HUB if self.host == DOCKER_HUB_API else self.host
        return f"{host}/{self.name}"

    @property
    def auth_keys(self) -> list[str]:
        """Keys a credentials file may use for this registry, most specific first."""
        if self.host == DOCKER_HUB_API:
            hosts = ["docker.io", "index.docker.io", "registry-1.docker.io"]
            urls = ["https://index.docker.io/v1/", "https://index.docker.io/v1"]
        else:
            hosts = [self.host]
            if self.host.startswith("localhost:"):
                hosts.append(self.host.replace("localhost", "127.0.0.1", 1))
            elif self.host.startswith("127.0.0.1:"):
                hosts.append(self.host.replace("127.0.0.1", "localhost", 1))
            urls = []
        keys: list[str] = []
        # podman's auth.json may scope credentials to a namespace: "host/org/repo".
        parts = self.repository.split("/")
        for host in hosts:
            keys.extend(f"{host}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1))
        for host in hosts:
            keys.extend([host, f"https://{host}", f"http://{host}", f"https://{host}/v1/"])
        return keys + urls


def parse_reference(ref: str) -> RegistryRef:
    """Split 'host/repo:tag' / 'host/repo@sha256:...' / 'alpine' into a RegistryRef.

    Raises UsageError (exit 2) for anything that is not a valid image reference."""
    if not ref or any(c.isspace() for c in ref):
        raise UsageError(f"docker://{ref}: not a valid image reference")
    _refuse_credentials(ref)
    rest, digest = ref, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise UsageError(f"docker://{ref}: digest must be sha256:<64 lowercase hex digits>")
    host, sep, path = rest.partition("/")
    if not sep or not _looks_like_host(host):
        host, path = DOCKER_HUB, rest
    tag: str | None = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise UsageError(f"docker://{ref}: invalid tag {tag!r}")
    if not _HOST.fullmatch(host):
        raise UsageError(f"docker://{ref}: invalid registry host {host!r}")
    if not path or not all(_COMPONENT.fullmatch(c) for c in path.split("/")):
        raise UsageError(
            f"docker://{ref}: invalid repository name {path!r} "
            "(lowercase letters, digits and . _ - separators)"
        )
    if host in _HUB_ALIASES:
        host = DOCKER_HUB_API
        if "/" not in path:
            path = "library/" + path
    if tag is None and digest is None:
        tag = "latest"
    return RegistryRef(host=host, repository=path, tag=tag, digest=digest)


def _refuse_credentials(ref: str) -> None:
    """`user:password@host/repo`: refused without echoing any of it. What follows an '@'
    in a valid reference is a digest, so an '@' followed by anything else is taken for
    credentials (typed there they would show in process lists and shell history)."""
    _, at, after = ref.partition("@")
    if at and not _DIGEST_ALGORITHM.match(after):
        raise UsageError(
            "docker:// reference holds credentials (user:password@...): refused; log in with "
            "`skopeo login`, `podman login` or `docker login` (REGISTRY_AUTH_FILE or "
            "~/.docker/config.json) instead"
        )


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"
