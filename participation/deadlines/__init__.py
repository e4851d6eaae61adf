"""Deadlines: business calendars, SLA policies, clocks, checkpoints and escalation."""
