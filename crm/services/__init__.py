"""The hand-off's services: `matching` (which Account), `handoffs` (the outbox: finding detections,
handing them off, the operator's retry and pick)."""
