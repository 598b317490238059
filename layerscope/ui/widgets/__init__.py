"""Widgets: they get data by assignment and report by posting messages."""
