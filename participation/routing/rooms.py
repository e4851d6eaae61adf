"""Socket.IO room names for routing."""


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def department_room(department_id: int) -> str:
    return f"department:{department_id}"


def queue_room() -> str:
    """The coordination centre's triage and dispute queues."""
    return "coordination"
