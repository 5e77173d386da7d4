import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import short_time

from . import rendering, services
from .models import Report
from .months import Month
from .selectors import report_file_response


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["__str__", "downloads", "status", "detections", "complete", "generated", "rules"]
    list_filter = ["status"]
    date_hierarchy = "month"
    actions = ["regenerate"]
    change_list_template = "admin/reports/report/change_list.html"
    readonly_fields = [
        "month",
        "status",
        "detection_count",
        "rules_version",
        "generated_at",
        "covers_until",
        "downloads",
        "function_counts",
        "summary_pretty",
        "error",
        "created_at",
        "updated_at",
    ]
    exclude = ["summary", "csv_file", "html_file"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # reports are generated, never edited

    @admin.display(description="detections", ordering="detection_count")
    def detections(self, obj):
        return obj.detection_count

    @admin.display(description="generated at", ordering="generated_at")
    def generated(self, obj):
        return short_time(obj.generated_at)

    @admin.display(description="rules", ordering="rules_version")
    def rules(self, obj):
        return obj.rules_version

    @admin.display(boolean=True, description="complete")
    def complete(self, obj):
        return obj.is_complete

    @admin.display(description="files")
    def downloads(self, obj):
        if not (obj.csv_file and obj.html_file):
            return "—"
        return format_html(
            '<a href="{}">CSV</a> · <a href="{}">HTML</a>',
            reverse("admin:reports_report_download", args=[obj.pk, "csv"]),
            reverse("admin:reports_report_download", args=[obj.pk, "html"]),
        )

    @admin.display(description="detections by function")
    def function_counts(self, obj):
        if "by_function" not in (obj.summary or {}):
            return "not counted: generated before functions were read (regenerate it to count them)"
        rows = rendering.function_rows(obj.summary)
        if not rows:
            return "—"
        return format_html(
            '<table class="function-counts"><thead><tr><th>Function</th><th>Detections</th><th>C-suite</th>'
            "<th>VP</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((row["label"], row["total"], row["csuite"], row["vp"]) for row in rows),
            ),
        )

    @admin.display(description="summary")
    def summary_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.summary, indent=2, ensure_ascii=False))

    def has_generate_permission(self, request):
        return request.user.has_perm("reports.generate_report")

    @admin.action(description="Regenerate the selected reports", permissions=["generate"])
    def regenerate(self, request, queryset):
        for report in queryset:
            self._request(request, Month.from_date(report.month), regenerate=True)

    def _request(self, request, month: Month, *, regenerate: bool) -> None:
        try:
            services.report_request(month=month, user=request.user, via="admin", regenerate=regenerate)
        except (ValueError, services.ReportQueueUnavailable) as exc:
            self.message_user(request, f"{month}: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"The report for {month} is being generated; reload in a moment.")

    def get_urls(self):
        extra = [
            path("generate/", self.admin_site.admin_view(self.generate_view), name="reports_report_generate"),
            path(
                "<int:pk>/download/<str:kind>/",
                self.admin_site.admin_view(self.download_view),
                name="reports_report_download",
            ),
        ]
        return [*extra, *super().get_urls()]

    def generate_view(self, request):
        """Generate any month from the changelist (POST only: it changes data)."""
        if not self.has_generate_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            try:
                month = Month.parse(request.POST.get("month", ""))
            except ValueError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self._request(request, month, regenerate=False)
        return HttpResponseRedirect(reverse("admin:reports_report_changelist"))

    def download_view(self, request, pk, kind):
        if not request.user.has_perm("reports.download_report"):
            raise PermissionDenied
        return report_file_response(get_object_or_404(Report, pk=pk), kind)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "last_month": str(Month.of(timezone.now()).previous()),
            "can_generate": self.has_generate_permission(request),
        }
        return super().changelist_view(request, extra_context)
