"""POST /api/classify: what the active rules say about a list of job titles.

A call is bounded in titles, title length and time (CLASSIFY_API_MAX_TITLES, _MAX_TITLE_LENGTH,
_MAX_SECONDS), each a 400 naming its setting: a web process serves the webhook and /health too,
so one call must not hold it, whatever the titles and the rules.
"""

import time

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import Function, Level


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class ClassifyView(APIView):
    required_permissions = ("classification.view_storedruleset",)

    class InputSerializer(serializers.Serializer):
        titles = serializers.ListField(
            child=StrictCharField(allow_blank=True, trim_whitespace=False),
            allow_empty=False,
            help_text="Job titles: up to CLASSIFY_API_MAX_TITLES (1000) of up to CLASSIFY_API_MAX_TITLE_LENGTH "
            "(1000) characters each, classified within CLASSIFY_API_MAX_SECONDS (5).",
        )

        def validate_titles(self, titles: list[str]) -> list[str]:
            # Read at each call, not at import: the limits are settings an operator may change.
            if len(titles) > (limit := settings.CLASSIFY_API_MAX_TITLES):
                raise serializers.ValidationError(
                    f"At most {limit} titles per call (CLASSIFY_API_MAX_TITLES); this call has {len(titles)}."
                )
            limit = settings.CLASSIFY_API_MAX_TITLE_LENGTH
            for index, title in enumerate(titles):
                if len(title) > limit:
                    raise serializers.ValidationError(
                        f"A title may have at most {limit} characters (CLASSIFY_API_MAX_TITLE_LENGTH); "
                        f"title {index} has {len(title)}."
                    )
            return titles

    class OutputSerializer(serializers.Serializer):
        class ResultSerializer(serializers.Serializer):
            title = serializers.CharField()
            level = serializers.ChoiceField(choices=Level.choices, allow_null=True)
            function = serializers.ChoiceField(
                choices=Function.choices, allow_null=True, help_text="What a senior executive runs; null: not senior."
            )
            rule = serializers.CharField(help_text="The role or veto that decided.")
            rules_version = serializers.CharField()

        results = ResultSerializer(many=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer, tags=["classification"])
    def post(self, request):
        """Each title's level (csuite, vp or null), function, deciding rule and rules version, in input order."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        budget = settings.CLASSIFY_API_MAX_SECONDS
        deadline = time.monotonic() + budget
        results = []
        for title in serializer.validated_data["titles"]:
            # Between titles: one title is bounded by its length (RE2 runs the rules in linear time).
            if time.monotonic() > deadline:
                raise serializers.ValidationError(
                    {
                        "titles": [
                            f"Classifying these titles took longer than {budget:g} s (CLASSIFY_API_MAX_SECONDS); "
                            f"{len(results)} were done. Send fewer titles per call."
                        ]
                    }
                )
            results.append(_result(title, services.classify(title)))
        return Response(self.OutputSerializer({"results": results}).data)


def _result(title: str, classification) -> dict:
    return {
        "title": title,
        "level": classification.level,
        "function": classification.function,
        "rule": classification.rule,
        "rules_version": classification.version,
    }
