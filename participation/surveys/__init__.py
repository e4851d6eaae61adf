"""Satisfaction surveys: definitions (builder, files), distribution, the callback loop, analysis."""
