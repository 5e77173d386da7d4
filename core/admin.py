"""Admin pieces shared by the apps."""

from django.contrib import admin
from django.utils.html import format_html

from core.dates import moment_text


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Records the services own (history, snapshots, the audit trail): viewed in the admin, never
    added, changed or deleted there, not even by a superuser."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def clamped(text: object):
    """Long text in a change list: two lines (console/admin.css's cp-clamp), all of it on hover."""
    if text in (None, ""):
        return "—"
    return format_html('<span class="cp-clamp" title="{}">{}</span>', text, text)


def short_time(moment):
    """A time in a change list that may wrap, as a date column's does not (Django gives those nowrap)."""
    return moment_text(moment)


def titled(title: str, base: type[admin.FieldListFilter]):
    """A field's list filter under a title an operator uses (the field's name can be jargon)."""

    class Titled(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return Titled


def presence_filter(title: str, *, present: str, absent: str):
    """Django's Empty / Not empty filter (its `__isempty` parameter, which links keep using) in an
    operator's words: `present` for rows that have the relation or value, `absent` for those without."""
    words = {"1": absent, "0": present}

    class Presence(admin.EmptyFieldListFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

        def choices(self, changelist):
            for lookup, choice in zip((None, "1", "0"), super().choices(changelist), strict=True):
                if lookup in words:  # keep a facet count ("Empty (3)") after the words
                    count = choice["display"].partition(" (")[2]
                    choice["display"] = f"{words[lookup]} ({count}" if count else words[lookup]
                yield choice

    return Presence
