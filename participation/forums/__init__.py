"""Public forums: proposals, threads, comments and moderation (planned, see the issue list)."""
