"""The reference answer: apply a member's changes one by one, in order, in plain Python.

An oracle written apart from the state machine (detections.services.members), so the differential
tests check that one implementation against another.
"""

from classification.services import classify


def replay(events: list[tuple[str, str, str]]) -> tuple[dict, list]:
    """events: (user_id, field, value) in the order received, field "Job Title", "Country" or
    "Company". Returns (members, detections): members maps user_id -> (title, level, country,
    company), detections lists (user_id, kind, level, title)."""
    members: dict[str, tuple[str, str, str, str]] = {}
    detections: list[tuple[str, str, str, str]] = []
    for user_id, field, value in events:
        current = members.get(user_id)
        if field != "Job Title":
            if current is not None:
                title, level, country, company = current
                if field == "Country":
                    country = value.strip()
                else:
                    company = value.strip()
                members[user_id] = (title, level, country, company)
            continue
        level = classify(value).level
        if level is None:
            members.pop(user_id, None)
            continue
        if current is None:
            detections.append((user_id, "first", level, value.strip()))
            country = company = ""
        else:
            if current[1] == "vp" and level == "csuite":
                detections.append((user_id, "promotion", level, value.strip()))
            country, company = current[2], current[3]
        members[user_id] = (value.strip(), level, country, company)
    return members, detections


def replay_titles(events: list[tuple[str, str]]) -> tuple[dict, list]:
    """`replay` of title changes only ((user_id, title) pairs): members map to (title, level)."""
    members, detections = replay([(user_id, "Job Title", title) for user_id, title in events])
    return {user_id: member[:2] for user_id, member in members.items()}, detections
