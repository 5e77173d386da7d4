"""GET /api/stats: the figures a dashboard polls."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from classification.models import Function

from .selectors import stats_overview

Count = serializers.IntegerField


class StatsView(APIView):
    required_permissions = ("detections.view_seniormember", "detections.view_detection")

    class OutputSerializer(serializers.Serializer):
        class Members(serializers.Serializer):
            total = Count()
            vp = Count()
            csuite = Count(help_text="C-suite")

        MembersByFunction = type(
            "MembersByFunction",
            (serializers.Serializer,),
            {value: Count(help_text=label) for value, label in Function.choices},
        )

        class Detections(serializers.Serializer):
            last_7_days = Count()
            last_30_days = Count()
            promotions_last_30_days = Count()
            not_yet_in_a_digest = Count(help_text="No audience has received them yet (digest or alert).")

        class Events(serializers.Serializer):
            unprocessed = Count(help_text="Stored webhook events not applied yet.")
            oldest_unprocessed_age_seconds = serializers.FloatField(allow_null=True)
            set_aside_events = Count(help_text="Events that could not be applied: their members wait to be retried.")
            set_aside_members = Count()

        class Deliveries(serializers.Serializer):
            pending = Count()
            sending = Count()
            deployed = Count(help_text="Bot runs queued in the Control Room and not reported finished.")
            oldest_unfinished_run_age_seconds = serializers.FloatField(allow_null=True)
            failed_will_retry = Count()
            dead = Count()
            sent = Count()
            last_sent_at = serializers.DictField(
                child=serializers.DateTimeField(allow_null=True), help_text="Per channel: email, teams."
            )

        class CommunityWriteback(serializers.Serializer):
            enabled = serializers.BooleanField(help_text="A role or badge is configured (COMMUNITY_WRITEBACK_*).")
            pending = Count(help_text="Changes waiting to be written, first attempts and retries.")
            failed = Count(help_text="Changes that need an operator (admin › Community write-back).")
            written = Count()
            oldest_due_age_seconds = serializers.FloatField(allow_null=True)

        class CrmHandoff(serializers.Serializer):
            enabled = serializers.BooleanField(help_text="CRM_HANDOFF_ENABLED.")
            by_status = serializers.DictField(
                child=Count(), help_text="pending, created, ambiguous, no_account, failed (admin › CRM hand-offs)."
            )
            oldest_waiting_age_seconds = serializers.FloatField(allow_null=True)
            paused_until = serializers.DateTimeField(
                allow_null=True, help_text="Set while the org's daily API limit is reached."
            )
            api_usage = serializers.DictField(
                child=Count(), allow_null=True, help_text="The org's API requests: used, limit."
            )

        class LatestReport(serializers.Serializer):
            month = serializers.CharField(help_text="YYYY-MM")
            status = serializers.CharField()
            complete = serializers.BooleanField()
            generated_at = serializers.DateTimeField(allow_null=True)
            detection_count = Count(allow_null=True)

        generated_at = serializers.DateTimeField()
        members = Members(help_text="Current senior executives, by level.")
        members_by_function = MembersByFunction(help_text="Current senior executives, by what they run.")
        detections = Detections()
        events = Events()
        deliveries = Deliveries(help_text="Digest deliveries by status, and the last send per channel.")
        community_writeback = CommunityWriteback(help_text="Roles and badges written back to the community.")
        crm = CrmHandoff(help_text="Salesforce Tasks for the account owners (docs/crm.md).")
        latest_report = LatestReport(allow_null=True)
        rules_version = serializers.CharField(help_text="The active classification ruleset.")

    @extend_schema(responses=OutputSerializer, tags=["stats"])
    def get(self, request):
        """Members by level and by function, recent detections, the event backlog, deliveries, the community write-back,
        the CRM hand-off, the latest report, rules version."""
        return Response(self.OutputSerializer(stats_overview()).data)
