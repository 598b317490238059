"""Screens: each owns its state and runs its workers."""
