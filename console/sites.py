"""The admin site as the operators' console: their sections first, the rest under "Administration".

Installed in place of django.contrib.admin (INSTALLED_APPS: console.sites.ConsoleAdminConfig), so
`admin.site` and every `@admin.register` use it. Kept apart from console/apps.py: a module holding
two AppConfig classes makes "console" in INSTALLED_APPS ambiguous.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.template.response import TemplateResponse
from django.urls import path, reverse

# The apps operators work in, in the order of the work: who was detected, what was sent, the month's
# report, and the rules behind them. Every other app (users, tokens, schedules, lockouts, the audit
# trail) is administration.
OPERATOR_APPS = ("detections", "digests", "reports", "crm", "classification")
ADMINISTRATION = "administration"


class ConsoleAdminSite(admin.AdminSite):
    # Django's navigation sidebar repeats the index beside every page and takes 290 px of a 1280 px
    # screen, where the lists need it; the index and the breadcrumbs lead everywhere it does.
    enable_nav_sidebar = False

    def get_app_list(self, request, app_label=None):
        """The index and the side bar: the operator apps first, then one "Administration" section
        with the other apps' models, app by app. One app's page (app_label) is Django's."""
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        ours = sorted(
            (app for app in apps if app["app_label"] in OPERATOR_APPS),
            key=lambda app: OPERATOR_APPS.index(app["app_label"]),
        )
        others = [app for app in apps if app["app_label"] not in OPERATOR_APPS]
        if not others:
            return ours
        administration = {
            "name": "Administration",
            "app_label": ADMINISTRATION,
            "app_url": reverse("admin:administration", current_app=self.name),
            "has_module_perms": True,
            "models": [model for app in others for model in app["models"]],
        }
        return [*ours, administration]

    def get_urls(self):
        # Before Django's: its catch-all app index would answer /admin/administration/ with a 404.
        own = [path("administration/", self.admin_view(self.administration_index), name="administration")]
        return own + super().get_urls()

    def administration_index(self, request):
        """The "Administration" section's page, as an app's page looks."""
        section = next(app for app in self.get_app_list(request) if app["app_label"] == ADMINISTRATION)
        context = {
            **self.each_context(request),
            "title": "Administration",
            "subtitle": None,
            "app_list": [section],
            "app_label": ADMINISTRATION,
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/app_index.html", context)


class ConsoleAdminConfig(AdminConfig):
    default_site = "console.sites.ConsoleAdminSite"
