from django.urls import path

from .webhook import community_webhook

urlpatterns = [
    path("community", community_webhook, name="webhook-community"),
    path("community/<str:event_name>", community_webhook, name="webhook-community-event"),
]
