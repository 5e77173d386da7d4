from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Who may do what (the Operators and Viewers groups, the API's permission check) and what
    they did (the audit trail)."""

    name = "access"
    verbose_name = "Access and audit"
