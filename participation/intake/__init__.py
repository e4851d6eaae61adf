"""Intake: submissions from citizens and enterprises, tracking codes, photos."""
