"""The audience form's searchable multiple selects, on the Select2 that the Django admin ships for
its own autocomplete fields (admin/js/vendor/select2), set up by digests/static/digests/searchable.js:
type to narrow, Enter or a click to choose, × to remove; no Ctrl-click in a list of 250."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

SELECT2_MEDIA = forms.Media(
    # Select2 attaches itself to the jQuery loaded before it; jquery.init.js then moves that jQuery
    # to django.jQuery, as the admin's autocomplete widgets load them.
    js=[
        "admin/js/vendor/jquery/jquery.js",
        "admin/js/vendor/select2/select2.full.js",
        "admin/js/jquery.init.js",
        "digests/searchable.js",
    ],
    css={"screen": ["admin/css/vendor/select2/select2.css", "admin/css/autocomplete.css"]},
)


class SearchableSelectMultiple(forms.SelectMultiple):
    """A multiple select searched as typed (an audience's countries)."""

    def __init__(self, *, placeholder: str, attrs=None, choices=()):
        super().__init__({"class": "cp-searchable", "data-placeholder": placeholder, **(attrs or {})}, choices)

    @property
    def media(self):
        return SELECT2_MEDIA


class EntriesSelectMultiple(SearchableSelectMultiple):
    """Entries from no fixed list (an audience's companies: names or domains). Whatever is typed is
    taken; the entries known today are suggested from `suggest_url`, a view answering Select2's
    ?term= with {"results": [{"id", "text"}], "pagination": {"more"}}. Its options are its values."""

    def __init__(self, *, placeholder: str, suggest_url, attrs=None):
        super().__init__(placeholder=placeholder, attrs=attrs)
        self.suggest_url = suggest_url  # lazy: reversed when the form is drawn, not when imported

    def get_context(self, name, value, attrs):
        self.choices = [(entry, entry) for entry in self.format_value(value)]
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].update({"data-tags": "true", "data-suggest-url": str(self.suggest_url)})
        return context


class EntriesField(forms.Field):
    """A list of free-text entries from a multiple select: trimmed, blanks and repeats dropped."""

    def __init__(self, *, max_length: int, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        entries = [str(entry).strip() for entry in value or []]
        return list(dict.fromkeys(entry for entry in entries if entry))

    def validate(self, value) -> None:
        super().validate(value)
        too_long = [entry for entry in value if len(entry) > self.max_length]
        if too_long:
            raise ValidationError(
                f"Each entry has at most {self.max_length} characters; this one has {len(too_long[0])}: "
                f"{too_long[0][:40]}…"
            )
