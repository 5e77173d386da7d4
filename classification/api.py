"""POST /api/classify: what the active rules say about a list of job titles."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from detections.models import Level
from detections.serializers import StrictCharField

from . import services

MAX_TITLES = 1000
MAX_TITLE_LENGTH = 10_000


class ClassifyView(APIView):
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
