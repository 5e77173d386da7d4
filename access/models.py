from django.conf import settings
from django.db import models

from core.dates import moment_text


class AuditEntry(models.Model):
    """One operator action: who, when, what, on what. Written by access.services.audit_record."""

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "API"
        COMMAND = "command", "Command line"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Kept as text too: the entry outlives the account.
    username = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=10, choices=Via.choices)
    action = models.CharField(max_length=40, db_index=True, help_text="e.g. digest.send_extra, report.generate.")
    target = models.CharField(max_length=255, blank=True, help_text="What it acted on, as shown at the time.")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{moment_text(self.at)} {self.username or 'system'}: {self.action} {self.target}".strip()
