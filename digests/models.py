from django.db import models


class Digest(models.Model):
    """One weekly digest: the detections it carries point at it (Detection.digest)."""

    week_ending = models.DateField(unique=True, help_text="The Friday (America/New_York) the digest is for.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-week_ending"]

    def __str__(self) -> str:
        return f"Digest for the week ending {self.week_ending:%Y-%m-%d}"
