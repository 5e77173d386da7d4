"""POST /api/classify: what the active rules say about a list of job titles."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import Level

MAX_TITLES = 1000
MAX_TITLE_LENGTH = 10_000


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
            child=StrictCharField(max_length=MAX_TITLE_LENGTH, allow_blank=True, trim_whitespace=False),
            allow_empty=False,
            max_length=MAX_TITLES,
            help_text=f"Up to {MAX_TITLES} job titles.",
        )

    class OutputSerializer(serializers.Serializer):
        class ResultSerializer(serializers.Serializer):
            title = serializers.CharField()
            level = serializers.ChoiceField(choices=Level.choices, allow_null=True)
            rule = serializers.CharField(help_text="The role or veto that decided.")
            rules_version = serializers.CharField()

        results = ResultSerializer(many=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer, tags=["classification"])
    def post(self, request):
        """Each title's level (csuite, vp or null), deciding rule and rules version, in input order."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results = [_result(title, services.classify(title)) for title in serializer.validated_data["titles"]]
        return Response(self.OutputSerializer({"results": results}).data)


def _result(title: str, classification) -> dict:
    return {
        "title": title,
        "level": classification.level,
        "rule": classification.rule,
        "rules_version": classification.version,
    }
