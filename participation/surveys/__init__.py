"""Satisfaction surveys and callbacks (planned, see the issue list)."""
