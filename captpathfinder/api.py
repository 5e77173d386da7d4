"""GET /api/stats: the figures a dashboard polls."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import stats_overview


class StatsView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, tags=["stats"])
    def get(self, request):
        """Members by level, recent detections, the event backlog, deliveries, the latest report, rules version."""
        return Response(stats_overview())
