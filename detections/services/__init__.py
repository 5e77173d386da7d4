"""What changes detections' data, one module a concern.

- intake: store a webhook delivery, wake a worker.
- processing: apply stored events (batches of many members, or of one), the outbox sweep, an
  operator's retry of failed events (audited).
- members: the member state machine and the one writer of members and detections.
- enrichment, reclassification, backfill: the other sources of member changes, through `members`
  (an operator's reclassification is audited).
- corrections: an operator's correction of a member, or a senior executive the rules missed,
  through `members`; pinned, a confirmed label, audited.
- writeback: the community write-back (roles and badges given and taken), its retries, the daily
  reconcile and an operator's sync or retry (audited).
- housekeeping: the raw events' retention.

Modules are imported by name (`from detections.services import writeback`); this package
re-exports nothing.
"""
