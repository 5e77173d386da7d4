from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import services
from .engine import Ruleset, RulesetError
from .evaluation import SHIPPED_LABELS, confirmed_labels_read
from .impact import LabelsBroken
from .models import ConfirmedLabel, StoredRuleset


class StoredRulesetForm(forms.ModelForm):
    activate = forms.BooleanField(required=False, initial=True, help_text="Use these rules as soon as they are saved.")

    class Meta:
        model = StoredRuleset
        fields = ["content", "change_note"]
        widgets = {"content": forms.Textarea(attrs={"rows": 40, "cols": 120, "style": "font-family: monospace"})}

    def clean_content(self):
        content = self.cleaned_data["content"]
        try:
            parsed = Ruleset.from_text(content)
        except RulesetError as exc:
            raise forms.ValidationError(str(exc)) from None
        if StoredRuleset.objects.filter(version=parsed.version).exists():
            raise forms.ValidationError(f"Version {parsed.version} is already stored: change 'version' first.")
        self.parsed = parsed
        return content

    def clean(self):
        cleaned = super().clean()
        parsed = getattr(self, "parsed", None)
        if cleaned.get("activate") and parsed is not None:
            broken = services.ruleset_impact(parsed, services.ruleset_active()).broken
            if broken:
                raise forms.ValidationError(
                    f"{LabelsBroken(broken)} To activate it anyway, save it without “activate” and use "
                    "“Activate the selected ruleset”, which shows every change and asks about each label."
                )
        return cleaned


class TryTitlesForm(forms.Form):
    titles = forms.CharField(widget=forms.Textarea(attrs={"rows": 12, "cols": 80}), help_text="One title per line.")
    ruleset = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = [(str(r.pk), f"stored {r.version}") for r in StoredRuleset.objects.all()]
        self.fields["ruleset"].choices = [("", "the active rules"), ("file", "the shipped file"), *stored]


@admin.register(StoredRuleset)
class StoredRulesetAdmin(admin.ModelAdmin):
    form = StoredRulesetForm
    list_display = ["version", "is_active", "change_note", "created_by", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["version", "change_note", "content"]
    actions = ["activate", "use_shipped_file", "reload_now"]
    change_list_template = "admin/classification/storedruleset/change_list.html"

    def get_fields(self, request, obj=None):
        return ["content", "change_note", "activate"] if obj is None else self.get_readonly_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["version", "is_active", "change_note", "created_by", "created_at", "content_hash", "content_block"]

    @admin.display(description="content")
    def content_block(self, obj):
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.content)

    def get_changeform_initial_data(self, request):
        return {"content": services.ruleset_active_text()}

    def save_model(self, request, obj, form, change):
        stored = services.ruleset_store(
            content=form.cleaned_data["content"],
            change_note=form.cleaned_data["change_note"],
            user=request.user,
            via="admin",
            activate=form.cleaned_data.get("activate", False),
        )
        obj.pk, obj.version, obj._state.adding = stored.pk, stored.version, False

    def has_change_permission(self, request, obj=None):
        # Stored rulesets are never edited in place (a new version is added); the permission
        # still governs the actions on the list (activate, back to the file, reload).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_active)

    @admin.action(description="Activate the selected ruleset…", permissions=["change"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one ruleset to activate.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:classification_activate", args=[queryset.get().pk]))

    def activate_view(self, request, pk):
        """What the ruleset would change on the confirmed and shipped labels; POST activates it, with
        the confirmed labels it gets wrong that the operator ticked (each one, knowingly)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        stored = self.get_object(request, str(pk))
        if stored is None:
            return HttpResponseRedirect(reverse("admin:classification_storedruleset_changelist"))
        try:
            candidate = Ruleset.from_text(stored.content)
        except RulesetError as exc:
            self.message_user(request, f"Ruleset {stored.version} is not valid: {exc}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:classification_storedruleset_changelist"))
        if request.method == "POST":
            accepted = {int(v) for v in request.POST.getlist("accept") if v.isdigit()}
            try:
                services.ruleset_activate(stored=stored, accepted=accepted, user=request.user, via="admin")
            except RulesetError as exc:
                self.message_user(request, f"Ruleset {stored.version} was not activated: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Ruleset {stored.version} is active.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:classification_storedruleset_changelist"))
        impact = services.ruleset_impact(candidate, services.ruleset_active())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Activate ruleset {stored.version}?",
            "opts": self.model._meta,
            "stored": stored,
            "impact": impact,
            "shipped_path": SHIPPED_LABELS.name,
        }
        return TemplateResponse(request, "admin/classification/storedruleset/activate.html", context)

    @admin.action(description="Go back to the shipped ruleset file", permissions=["change"])
    def use_shipped_file(self, request, queryset):
        services.ruleset_deactivate_all(user=request.user, via="admin")
        self.message_user(request, "The shipped ruleset file is active again.", messages.SUCCESS)

    @admin.action(description="Reload the rules in this process now", permissions=["change"])
    def reload_now(self, request, queryset):
        ruleset = services.ruleset_reload_now(user=request.user, via="admin")
        self.message_user(request, f"Ruleset {ruleset.version} loaded.", messages.SUCCESS)

    def get_urls(self):
        view = self.admin_site.admin_view
        custom = [
            path("try/", view(self.try_titles_view), name="classification_try_titles"),
            path("<int:pk>/activate/", view(self.activate_view), name="classification_activate"),
            path("shipped/", view(self.use_shipped_file_view), name="classification_use_shipped_file"),
            path("reload/", view(self.reload_now_view), name="classification_reload_now"),
        ]
        return custom + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        """The list, headed by the ruleset in force whether or not any is stored."""
        extra_context = {
            **(extra_context or {}),
            "in_force": services.ruleset_in_force(),
            "can_change_rules": self.has_change_permission(request),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def use_shipped_file_view(self, request):
        """POST: the button above the list (no row to select when none is stored)."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        self.use_shipped_file(request, self.get_queryset(request).none())
        return HttpResponseRedirect(reverse("admin:classification_storedruleset_changelist"))

    def reload_now_view(self, request):
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        self.reload_now(request, self.get_queryset(request).none())
        return HttpResponseRedirect(reverse("admin:classification_storedruleset_changelist"))

    def try_titles_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TryTitlesForm(request.POST or None)
        results, ruleset, error = [], None, None
        if request.method == "POST" and form.is_valid():
            try:
                ruleset = services.ruleset_for_choice(form.cleaned_data["ruleset"])
                results = services.titles_try(titles=form.cleaned_data["titles"].splitlines(), ruleset=ruleset)
            except RulesetError as exc:
                error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": "Try titles",
            "opts": self.model._meta,
            "form": form,
            "results": results,
            "ruleset": ruleset,
            "error": error,
            "changelist_url": reverse("admin:classification_storedruleset_changelist"),
        }
        return TemplateResponse(request, "admin/classification/try_titles.html", context)


@admin.register(ConfirmedLabel)
class ConfirmedLabelAdmin(admin.ModelAdmin):
    """Titles whose level (and function) a person confirmed: a candidate ruleset is checked against them."""

    list_display = ["title", "level", "function", "note", "created_by", "updated_at"]
    list_filter = ["level", "function"]
    search_fields = ["title", "note"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    change_list_template = "admin/classification/confirmedlabel/change_list.html"

    def save_model(self, request, obj, form, change):
        services.confirmed_label_save(obj, user=request.user, via="admin")

    def delete_model(self, request, obj):
        services.confirmed_label_delete(obj, user=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for label in queryset:  # one entry per label, as deleting one at a time records
            services.confirmed_label_delete(label, user=request.user, via="admin")

    def get_urls(self):
        export = path(
            "export.tsv", self.admin_site.admin_view(self.export_view), name="classification_confirmedlabel_export"
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """Every confirmed label as `level<TAB>title<TAB>function` lines: the labelled-file format
        classify --evaluate reads ("-": no function confirmed)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        lines = ["# confirmed labels: level<TAB>title<TAB>function (classify --evaluate reads this format)"]
        lines += [
            f"!{case.expected}\t{_tsv_safe(case.title)}\t{case.function or '-'}" for case in confirmed_labels_read()
        ]
        response = HttpResponse("\n".join(lines) + "\n", content_type="text/tab-separated-values; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="confirmed_labels.tsv"'
        return response


def _tsv_safe(title: str) -> str:
    """One line, one field: tabs and line breaks in a title would split it."""
    return " ".join(title.replace("\t", " ").split())
