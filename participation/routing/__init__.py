"""Routing: tickets, their parts and life cycle (the router itself arrives with issue #3)."""
