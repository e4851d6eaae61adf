"""Cross-cutting pieces: errors, permissions, unit of work, audit, real-time helpers."""
