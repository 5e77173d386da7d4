from .models import StoredRuleset


def stored_ruleset_active_key() -> tuple[int, str] | None:
    """(id, content hash) of the operator's active ruleset, or None when the shipped file rules."""
    return StoredRuleset.objects.filter(is_active=True).values_list("id", "content_hash").first()


def stored_ruleset_get(*, ruleset_id: int) -> StoredRuleset:
    return StoredRuleset.objects.get(pk=ruleset_id)
