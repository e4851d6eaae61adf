"""Socket.IO room names and the namespace of the forums."""

NAMESPACE = "/forums"


def proposal_room(proposal_id: int) -> str:
    return f"proposal:{proposal_id}"


def thread_room(thread_id: int) -> str:
    return f"thread:{thread_id}"
