from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .functions import FUNCTIONS


class Level(models.TextChoices):
    """The seniority levels the rules decide (a title that is neither is not senior)."""

    VP = "vp", "VP"
    CSUITE = "csuite", "C-suite"


# What a senior executive runs, as the rules read it from the title (docs/classification.md › Functions).
Function = models.TextChoices("Function", [(value.upper(), (value, label)) for value, label in FUNCTIONS.items()])


class StoredRuleset(models.Model):
    """A ruleset written by an operator in the admin; the active one overrides the shipped file.

    Rows are never edited in place: a change is a new version with a change note, so every
    decision's rules_version points at text that still exists.
    """

    version = models.CharField(max_length=64, unique=True)
    content = models.TextField(help_text="The ruleset in YAML, in the same format as the shipped file.")
    content_hash = models.CharField(max_length=64, editable=False)
    change_note = models.TextField(help_text="What changed and why.")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "ruleset"
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_ruleset"),
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (active)' if self.is_active else ''}"


class ConfirmedLabel(models.Model):
    """A title a person confirmed the level of: an operator's correction, or one added by hand.

    A candidate ruleset is checked against these (and the shipped labelled set) before it is
    activated: one that gets a confirmed label wrong is refused unless the operator accepts each.
    """

    class Label(models.TextChoices):
        CSUITE = "csuite", "C-suite"
        VP = "vp", "VP"
        NONE = "none", "Not a senior executive"

    title = models.CharField(max_length=500, unique=True)
    level = models.CharField(max_length=10, choices=Label.choices)
    # Blank: not confirmed (a label of the level alone, or not a senior executive).
    function = models.CharField(max_length=20, choices=Function.choices, blank=True)
    note = models.TextField(blank=True, help_text="Why, for the next person who changes the rules.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.title}"

    def clean(self) -> None:
        if self.function and self.level == self.Label.NONE:
            raise ValidationError({"function": "A title that is not a senior executive's has no function."})
