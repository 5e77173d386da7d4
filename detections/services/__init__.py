"""What changes detections' data, one module a concern.

- intake: store a webhook delivery, wake a worker.
- processing: apply stored events (batches of many members, or of one), the outbox sweep.
- members: the member state machine and the one writer of members and detections.
- enrichment, reclassification, backfill: the other sources of member changes, through `members`.
- housekeeping: the raw events' retention.
"""
