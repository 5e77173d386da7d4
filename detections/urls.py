from django.urls import path

from .api import CommunityWebhookView

urlpatterns = [
    path("community", CommunityWebhookView.as_view(), name="webhook-community"),
    path("community/<str:event_name>", CommunityWebhookView.as_view(), name="webhook-community-event"),
]
