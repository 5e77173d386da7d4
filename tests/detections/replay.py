"""The reference answer: apply a member's changes one by one, in order, in plain Python.

An oracle written apart from the state machine (detections.services.members), so the differential
tests check that one implementation against another.
"""

from classification.services import classify


def replay(events: list[tuple[str, str, str]]) -> tuple[dict, list]:
    """events: (user_id, field, value) in the order received, field "Job Title", "Country" or
    "Company". Returns (members, detections): members maps user_id -> (title, level, country,
    company); detections lists (user_id, kind, level, title, country, company). None is in a digest,
    so a Country or Company that a senior member takes is copied onto all of that person's
    detections; one that arrives while they are not senior is only remembered, and a member made
    later starts from the latest ones."""
    members: dict[str, dict] = {}
    detections: list[dict] = []
    sent: dict[str, dict] = {}
    for user_id, field, value in events:
        member = members.get(user_id)
        if field != "Job Title":
            sent.setdefault(user_id, {})[field.lower()] = value.strip()
            if member is not None:
                for record in [member, *(d for d in detections if d["user_id"] == user_id)]:
                    record[field.lower()] = value.strip()
            continue
        level = classify(value).level
        if level is None:
            members.pop(user_id, None)
            continue
        kind = "first" if member is None else ("promotion" if member["level"] == "vp" and level == "csuite" else None)
        if member is None:
            member = members[user_id] = {"country": "", "company": "", **sent.get(user_id, {})}
        member.update(title=value.strip(), level=level)
        if kind is not None:
            detections.append({"user_id": user_id, "kind": kind, "level": level, "title": value.strip(), **member})
    return (
        {user_id: (m["title"], m["level"], m["country"], m["company"]) for user_id, m in members.items()},
        [(d["user_id"], d["kind"], d["level"], d["title"], d["country"], d["company"]) for d in detections],
    )


def replay_titles(events: list[tuple[str, str]]) -> tuple[dict, list]:
    """`replay` of title changes only ((user_id, title) pairs): members map to (title, level),
    detections are (user_id, kind, level, title)."""
    members, detections = replay([(user_id, "Job Title", title) for user_id, title in events])
    return {user_id: member[:2] for user_id, member in members.items()}, [d[:4] for d in detections]
