"""Query-string filters of GET /api/members and GET /api/detections (django-filter)."""

import django_filters

from classification.models import Function, Level
from integrations.insided.profiles import USER_ID_CHARACTERS

from .models import Detection, SeniorMember
from .payloads import user_id_validate


class _SeniorFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=Level.choices)
    function = django_filters.ChoiceFilter(
        choices=Function.choices, help_text=f"What the executive runs: one of {', '.join(Function.values)}."
    )
    company = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the company name.")
    country = django_filters.CharFilter(lookup_expr="iexact", help_text="The country, any case.")


class MemberFilter(_SeniorFilter):
    # ?detected_after=2026-10-01&detected_before=2026-10-31: New York days, both included.
    detected = django_filters.DateFromToRangeFilter(field_name="first_detected_at")

    class Meta:
        model = SeniorMember
        fields = ["level", "function", "company", "country", "detected"]


class DetectionFilter(_SeniorFilter):
    user_id = django_filters.CharFilter(
        help_text=f"One member's detections (their community user id: {USER_ID_CHARACTERS}).",
        validators=[user_id_validate],
    )
    kind = django_filters.ChoiceFilter(choices=Detection.Kind.choices)
    detected = django_filters.DateFromToRangeFilter(field_name="detected_at")

    class Meta:
        model = Detection
        fields = ["user_id", "level", "function", "kind", "company", "country", "detected"]
