"""Shadows: for each node, the earlier layers that wrote its path, kept as shared chains.

A path written by N layers has a history of N-1 layers. Stored as one list per node (as
it once was), every rewrite copied its predecessor's list: N identical layers of F files
held F * N^2 / 2 layer numbers (5 GB for 2,000 layers of 300 files). Here a history is a
chain of cells, newest first, each cell one layer and a link to the older cell; a rewrite
adds one cell that links to its predecessor's chain, which it shares. Cost: one cell
(6 bytes) per rewrite and one head (4 bytes) per node, whatever the depth of the stack.

Readers see a read-only Mapping node -> [layers, oldest first], built on access.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping

NONE = -1


class Shadows(Mapping[int, list[int]]):
    """node -> the earlier layers that wrote its path, oldest first (absent: none)."""

    __slots__ = ("_count", "_head", "_layer", "_next")

    def __init__(self) -> None:
        self._head = array("i")  # node -> its newest cell, NONE for no history
        self._layer = array("h")  # cell -> a layer
        self._next = array("i")  # cell -> the older cell, NONE at the oldest
        self._count = 0  # nodes with a history

    # -- building (model.layers) -------------------------------------------------------------

    def record(self, node: int, old: int, old_layer: int, layer: int) -> None:
        """`node` (written by `layer`) now hides `old`, which `old_layer` wrote: node's
        history is old's, plus old_layer when that is a real, different layer. `node` may
        be `old` itself (a directory rewritten in place)."""
        heads = self._head
        head = heads[old] if old < len(heads) else NONE
        if old_layer >= 0 and old_layer != layer:
            cell = len(self._layer)
            self._layer.append(old_layer)
            self._next.append(head)
            head = cell
        if head != NONE:
            self._set_head(node, head)

    def head(self, node: int) -> int:
        heads = self._head
        return heads[node] if node < len(heads) else NONE

    def _set_head(self, node: int, cell: int) -> None:
        heads = self._head
        if node >= len(heads):
            # grown by half at a time: nodes are recorded in increasing order, one by one
            grow = max(node + 1 - len(heads), len(heads) // 2 + 1024)
            heads.extend(array("i", [NONE]) * grow)
        if heads[node] == NONE:
            self._count += 1
        heads[node] = cell

    # -- Mapping ---------------------------------------------------------------------------

    def __getitem__(self, node: int) -> list[int]:
        cell = self.head(node) if node >= 0 else NONE
        if cell == NONE:
            raise KeyError(node)
        layers, nexts = self._layer, self._next
        out = []
        while cell != NONE:
            out.append(layers[cell])
            cell = nexts[cell]
        out.reverse()
        return out

    def __iter__(self) -> Iterator[int]:
        return (node for node, cell in enumerate(self._head) if cell != NONE)

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"Shadows({dict(self.items())!r})"

    # -- the compact form (model.tree_codec) -----------------------------------------------

    def columns(self) -> tuple[array[int], array[int], array[int], array[int]]:
        """(nodes with a history, their head cells, every cell's layer, every cell's link):
        what tree_codec stores; from_columns() rebuilds the same chains."""
        nodes = array("i", iter(self))
        heads = array("i", [self._head[n] for n in nodes])
        return nodes, heads, self._layer, self._next

    @classmethod
    def from_columns(
        cls, nodes: array[int], heads: array[int], layers: array[int], nexts: array[int]
    ) -> Shadows:
        """The inverse of columns(). Raises ValueError unless every link points at an
        older cell (so no chain can loop) and every head at a cell."""
        if len(layers) != len(nexts) or len(nodes) != len(heads):
            raise ValueError("history columns disagree")
        if any(link >= cell or link < NONE for cell, link in enumerate(nexts)):
            raise ValueError("history cell links forward")
        if len(heads) and (min(heads) < 0 or max(heads) >= len(layers)):
            raise ValueError("history head out of range")
        out = cls()
        out._layer, out._next = layers, nexts
        for node, cell in zip(nodes, heads, strict=True):
            if node < 0:
                raise ValueError("negative node")
            out._set_head(node, cell)
        if out._count != len(nodes):
            raise ValueError("a node's history stored twice")
        return out
