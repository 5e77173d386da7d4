"""What a call to the inSided API can end in, besides an answer. Callers decide what a final
failure means: a registration waits for the outbox sweep and an enrichment retries later when it
is transient (`client.TRANSIENT_ERRORS`), a backfill records a row error, the write-back follows
its schedule."""


class CommunityError(Exception):
    """The community API could not give an answer (after retries), or gave one the service cannot read."""


class CommunityNotFound(CommunityError):
    """404: the documented reply when the user (or, for a badge, the user or the badge) does not exist."""


class CommunityUnavailable(CommunityError):
    """The community did not answer usefully (5xx, 429) after the quick retries: worth trying later."""
