"""Content digests for diffs and duplicate finding: xxh3_128, streamed, memoised.

xxh3_128 was measured 11x faster than sha256 here; it is not a security hash, and nothing
uses it as one (registry digests are verified with sha256 elsewhere)."""

from __future__ import annotations

import xxhash

from layerscope.loading import LoadedImage


class ContentHasher:
    """Digest of a node's content, memoised by (content layer id, locator)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, int, int], bytes] = {}

    def digest(self, img: LoadedImage, node: int) -> bytes:
        tree = img.tree
        layer = tree.source_layer(node)
        key = (_layer_key(img, layer), tree.loc[node], tree.size[node])
        got = self._memo.get(key)
        if got is None:
            h = xxhash.xxh3_128()
            for chunk in img.iter_content(node):
                h.update(chunk)
            got = h.digest()
            self._memo[key] = got
        return got

    def equal(self, a: LoadedImage, na: int, b: LoadedImage, nb: int) -> bool:
        la = _layer_key(a, a.tree.source_layer(na))
        lb = _layer_key(b, b.tree.source_layer(nb))
        # The same blob (by content digest) and the same member: equal without reading.
        if la == lb and la.startswith("sha256:") and a.tree.loc[na] == b.tree.loc[nb]:
            return True
        return self.digest(a, na) == self.digest(b, nb)


def _layer_key(img: LoadedImage, layer: int) -> str:
    info = img.meta.layers[layer]
    if info.diff_id:
        return info.diff_id
    if info.id.startswith("sha256:"):
        return info.id
    # Partitions and directories have no content digest: key them by the image itself.
    return f"{img.ref}#{layer}"
