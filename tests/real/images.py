"""Real multi-layer images built by buildah from a real Debian root filesystem.

The root filesystem (tests/real/rootfs.py) becomes a one-layer base image (`buildah from
scratch` + `buildah add` of its tarball + `buildah commit`); `buildah bud --layers
--isolation chroot` then builds the Containerfile below on it, one layer per step, in a
private container storage under the test's temporary directory. The image is pushed as a
docker-archive (what the real dive reads without a daemon) and an oci-archive.

What each step leaves is what the tests check:
  1 apt-get install: apt's archives and lists (a real cache)
  2 a credentials file (planted)
  3 a data directory with two copies of a blob; an AWS key id in the RUN line (history)
  4 rm of both: a deleted directory and a deleted secret (recoverable)
  5 chmod/chown of lower files: attribute-only rewrites
  6 an opaque directory (a lower directory removed and made again in one step)
  7 a private key and a token in a config file (planted)
  8 a hard link to the key, a pip cache (planted)
and ENV holds a token: the image's config and history carry it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require, require_tool

# Values assembled at run time so that no scanner mistakes this file for a leak; each is
# shaped like the real format the rule looks for.
AWS_KEY_ID = "AKIA" + "Q7ZK3MWT" + "9RX2LBNP"
AWS_SECRET = "kq8Tz" + "3pLmN9vW2xR7yB4cD6fG1hJ5sA0eQ" + "uO8iY/"
GITHUB_TOKEN = "ghp_" + "R8sT2vWx" + "Yz4AbCdEf6GhIjKl8MnOpQr0StUvWx12"
GITLAB_TOKEN = "glpat-" + "Xy9" + "Zw8Vu7Ts6Rq5Po4N"
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW" * 3

# files the Containerfile COPYs from the build context
PLANTED = {
    "aws-credentials": f"[default]\naws_access_key_id = {AWS_KEY_ID}\n"
    f"aws_secret_access_key = {AWS_SECRET}\n",
    "deploy_key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}\n"
    "-----END OPENSSH PRIVATE KEY-----\n",
    "settings.yml": f"service:\n  url: https://git.example.org\n  token: {GITHUB_TOKEN}\n",
}

CONTAINERFILE = f"""FROM localhost/layerscope-base:latest
RUN apt-get update && apt-get install -y --no-install-recommends jq
COPY aws-credentials /root/.aws/credentials
RUN mkdir -p /opt/data && head -c 300000 /dev/urandom > /opt/data/blob.bin \\
 && cp /opt/data/blob.bin /opt/data/copy.bin && test -n "{AWS_KEY_ID}"
RUN rm -rf /root/.aws /opt/data
RUN chmod 0600 /etc/debian_version && chown 1000:1000 /usr/bin/jq
RUN rm -rf /etc/apt/apt.conf.d && mkdir /etc/apt/apt.conf.d \\
 && echo 'APT::Install-Recommends "false";' > /etc/apt/apt.conf.d/99norecommends
COPY deploy_key settings.yml /opt/app/
RUN ln /opt/app/deploy_key /opt/app/deploy_key.bak \\
 && mkdir -p /root/.cache/pip/http && head -c 50000 /dev/urandom > /root/.cache/pip/http/entry
ENV DEPLOY_TOKEN={GITLAB_TOKEN}
"""


@dataclass(frozen=True, slots=True)
class Built:
    docker_archive: Path
    oci_archive: Path
    base_archive: Path  # the base image alone (stock layer), as a docker-archive


def _buildah(storage: Path) -> list[str]:
    buildah = require_tool("buildah")
    return [buildah, "--root", str(storage / "root"), "--runroot", str(storage / "run"),
            "--storage-driver", "overlay"]  # fmt: skip


def _run(cmd: list[str], timeout: int = 900) -> str:
    env = {**os.environ, "BUILDAH_ISOLATION": "chroot", "STORAGE_DRIVER": "overlay"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, f"{' '.join(cmd[:6])}...: {r.stderr[-2000:]}"
    return r.stdout.strip()


def base_image(rootfs_tar: Path, storage: Path) -> None:
    """The root filesystem tarball as the one-layer image localhost/layerscope-base."""
    b = _buildah(storage)
    ctr = _run([*b, "from", "scratch"])
    _run([*b, "add", ctr, str(rootfs_tar), "/"])
    _run([*b, "config", "--cmd", "/bin/bash", "--created-by", "mmdebstrap minbase", ctr])
    _run([*b, "commit", "-q", "--rm", ctr, "localhost/layerscope-base:latest"])


def build_images(rootfs_tar: Path, work: Path) -> Built:
    require(os.geteuid() == 0, "buildah bud --isolation chroot needs root")
    storage = work / "storage"
    context = work / "context"
    context.mkdir(parents=True)
    (context / "Containerfile").write_text(CONTAINERFILE)
    for name, text in PLANTED.items():
        (context / name).write_text(text)
    b = _buildah(storage)
    base_image(rootfs_tar, storage)
    _run([*b, "bud", "--layers", "--isolation", "chroot", "-q", "-f",
          str(context / "Containerfile"), "-t", "localhost/layerscope-real:1", str(context)],
         timeout=1200)  # fmt: skip
    out = Built(work / "real.docker.tar", work / "real.oci.tar", work / "base.docker.tar")
    _run([*b, "push", "-q", "localhost/layerscope-real:1", f"docker-archive:{out.docker_archive}"])
    _run([*b, "push", "-q", "localhost/layerscope-real:1", f"oci-archive:{out.oci_archive}:1"])
    _run([*b, "push", "-q", "localhost/layerscope-base:latest",
          f"docker-archive:{out.base_archive}"])  # fmt: skip
    # the storage holds a second copy of everything: only the archives are kept
    _run([*b, "rmi", "-a", "-f"])
    shutil.rmtree(storage, ignore_errors=True)
    return out
