"""CRM hand-offs in the admin: what went to Salesforce, and the operator's retry and account pick."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin, clamped, short_time

from .models import AccountPick, Handoff
from .services.operator_actions import account_pick, account_picks_forget, handoffs_retry


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyModelAdmin):
    """CRM hand-offs: one per detection handed to Salesforce."""

    # The action second, long text clamped (the whole on hover and on the detail page, tries included).
    list_display = ["detection_link", "pick", "status", "account", "task", "outcome", "updated"]
    list_display_links = None
    list_filter = ["status"]
    search_fields = ["detection__user_id", "detection__username", "account_name", "account_id", "task_id"]
    list_select_related = ["detection"]
    actions = ["retry"]
    readonly_fields = ["detection_link", "task"]

    def has_retry_permission(self, request):
        return request.user.has_perm("crm.retry_handoff")

    @admin.display(description="detection", ordering="detection__detected_at")
    def detection_link(self, obj):
        detection = obj.detection
        shown = f"{detection.username or detection.user_id}, {detection.title}"
        url = reverse("admin:detections_detection_change", args=[detection.pk])
        return format_html('<a href="{}">{}</a>', url, clamped(shown))

    @admin.display(description="pick")
    def pick(self, obj):
        if obj.status != Handoff.Status.AMBIGUOUS:
            return ""
        return format_html('<a href="{}">Pick the account…</a>', reverse("admin:crm_handoff_pick", args=[obj.pk]))

    @admin.display(description="account", ordering="account_name")
    def account(self, obj):
        if not obj.account_id:
            return "—"
        return format_html(
            '<span class="cp-clamp" title="{}">{}</span>', obj.account_id, obj.account_name or obj.account_id
        )

    @admin.display(description="task in Salesforce", ordering="task_id")
    def task(self, obj):
        if not obj.task_id:
            return "—"
        return format_html('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', obj.task_url, obj.task_id)

    @admin.display(description="answer or error")
    def outcome(self, obj):
        return clamped(obj.last_error or obj.answer)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj):
        return short_time(obj.updated_at)

    @admin.action(description="Retry the selected hand-offs now (matching the account afresh)", permissions=["retry"])
    def retry(self, request, queryset):
        count = handoffs_retry(list(queryset.values_list("pk", flat=True)), user=request.user, via="admin")
        self.message_user(request, f"{count} hand-offs queued again (created and waiting ones are left as they are).")

    def get_urls(self):
        pick = path("<int:pk>/pick/", self.admin_site.admin_view(self.pick_view), name="crm_handoff_pick")
        return [pick, *super().get_urls()]

    def pick_view(self, request, pk):
        """The accounts an ambiguous hand-off matched: the operator picks one, and it is remembered."""
        if not request.user.has_perm("crm.pick_account"):
            raise PermissionDenied
        handoff = get_object_or_404(Handoff.objects.select_related("detection"), pk=pk)
        choices = [
            (a["Id"], f"{a.get('Name')} · {a.get('Website') or 'no website'} · {a['Id']}") for a in handoff.candidates
        ]
        form = AccountPickForm(request.POST or None, choices=choices)
        if request.method == "POST" and form.is_valid():
            try:
                handoff = account_pick(handoff, form.cleaned_data["account"], user=request.user, via="admin")
            except ValueError as exc:  # picked meanwhile (a second click, another operator)
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(
                    request, f"{handoff.account_name} picked: the Task is being created.", messages.SUCCESS
                )
            return HttpResponseRedirect(reverse("admin:crm_handoff_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Pick the account for {handoff.detection.username or handoff.detection.user_id}",
            "opts": self.model._meta,
            "handoff": handoff,
            "detection": handoff.detection,
            "adminform": helpers.AdminForm(form, [(None, {"fields": ["account"]})], {}),
            "form": form,
            "submit_label": "Pick this account",
        }
        return TemplateResponse(request, "admin/crm/handoff/pick.html", context)


class AccountPickForm(forms.Form):
    account = forms.ChoiceField(widget=forms.RadioSelect, label="Account")

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = choices


@admin.register(AccountPick)
class AccountPickAdmin(admin.ModelAdmin):
    """The accounts operators picked, by email domain or company; delete one to match afresh."""

    list_display = ["match_key", "account_name", "account_id", "picked_by", "picked_at"]
    search_fields = ["match_key", "account_name", "account_id"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        account_picks_forget([obj.pk], user=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        account_picks_forget(list(queryset.values_list("pk", flat=True)), user=request.user, via="admin")
