"""The pure model: entries, trees, layer application, diffs and analyses.

Nothing here reads files or imports a UI library.
"""
