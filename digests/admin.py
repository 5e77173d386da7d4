from django.contrib import admin

from .models import Digest


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ["week_ending", "created_at"]
    date_hierarchy = "week_ending"
