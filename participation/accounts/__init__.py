"""Users, roles, enterprise organisations, department membership and API tokens."""
