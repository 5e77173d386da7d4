"""The CRM hand-off (opt-in): each detection at the configured levels and kinds becomes a Salesforce
Task for the owner of the customer's Account. Above detections, beside digests and reports."""
