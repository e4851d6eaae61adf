"""Notifications: in-app (live) and e-mail through a transactional outbox, by each user's choice."""
