"""The inSided (Gainsight Customer Communities) User API.

- `errors`: the typed errors every caller catches (`CommunityError` and its kinds); a module of
  their own so the client and the mapping both raise them without importing each other.
- `profiles`: the mapping of the API's replies into our terms: a member's `CommunityProfile`
  (its texts cut to the columns they land in), the user id a reply carries and the rule of which
  user ids the service keeps (the webhook's rule too: detections.payloads imports it).
- `client`: the HTTP client (OAuth2 client credentials, users, the member list, roles and
  badges), its retries and rate limiter, the member list's filters.

The detections app calls it (enrichment, registrations, corrections, backfill, the write-back).
"""
