"""POST /api/digests/send: the operators' trigger, calling the same services as the admin."""

from django.db import transaction
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services


class DigestSendView(APIView):
    class InputSerializer(serializers.Serializer):
        build = serializers.BooleanField(default=False, help_text="Build this week's digest first.")
        resend_dead = serializers.BooleanField(default=False, help_text="Give dead deliveries a fresh start.")

    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = serializer.validated_data
        with transaction.atomic():
            digest = services.digest_build_weekly() if options["build"] else None
            resent = services.deliveries_resend() if options["resend_dead"] else 0
            due = services.deliveries_make_due()
            transaction.on_commit(services.deliveries_send_enqueue)
        body = {
            "digest": {"week_ending": digest.week_ending, "detections": digest.detection_count} if digest else None,
            "resent": resent,
            "due": due,
            "status": "queued",
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
