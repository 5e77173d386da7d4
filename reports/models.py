from django.db import models


def report_file_path(report: "Report", filename: str) -> str:
    return f"reports/{report.month:%Y-%m}/{filename}"


class Report(models.Model):
    """The month-end report of one calendar month (America/New_York): summary, CSV and HTML.

    Regenerating writes new files under new names and switches the row to them in one
    update, so a download never sees a half-written file; the old files are deleted after.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    month = models.DateField(unique=True, help_text="The first day of the month reported on.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    summary = models.JSONField(default=dict, blank=True)
    csv_file = models.FileField(upload_to=report_file_path, max_length=255, blank=True)
    html_file = models.FileField(upload_to=report_file_path, max_length=255, blank=True)
    detection_count = models.PositiveIntegerField(default=0)
    rules_version = models.CharField(max_length=64, blank=True, help_text="The ruleset active when generated.")
    generated_at = models.DateTimeField(null=True, blank=True)
    covers_until = models.DateTimeField(
        null=True, blank=True, help_text="Detections up to this moment are included (the month's end once complete)."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month"]
        permissions = [
            ("generate_report", "Can generate and regenerate reports"),
            ("download_report", "Can download report files (the member list)"),
        ]

    def __str__(self) -> str:
        return f"Report for {self.month:%B %Y}"

    @property
    def is_complete(self) -> bool:
        """Ready and generated after the month ended, so nothing of the month is missing."""
        from .months import Month

        return (
            self.status == self.Status.READY
            and self.covers_until is not None
            and self.covers_until >= Month.from_date(self.month).end
        )
