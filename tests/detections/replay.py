"""The reference answer: apply a member's title changes one by one, in order, in plain Python."""

from classification.services import classify


def replay(events: list[tuple[str, str]]) -> tuple[dict, list]:
    """events: (user_id, title) in order received. Returns (members, detections) where
    members maps user_id -> (title, level) and detections lists (user_id, kind, level, title)."""
    members: dict[str, tuple[str, str]] = {}
    detections: list[tuple[str, str, str, str]] = []
    for user_id, title in events:
        level = classify(title).level
        current = members.get(user_id)
        if level is None:
            members.pop(user_id, None)
            continue
        if current is None:
            detections.append((user_id, "first", level, title))
        elif current[1] == "vp" and level == "csuite":
            detections.append((user_id, "promotion", level, title))
        members[user_id] = (title, level)
    return members, detections
