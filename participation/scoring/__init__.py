"""The department collaboration scorecard (ARCHITECTURE section 5)."""
