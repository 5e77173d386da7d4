from django.urls import path

from .api import CommunityWebhookEventView, CommunityWebhookView

urlpatterns = [
    path("community", CommunityWebhookView.as_view(), name="webhook-community"),
    path("community/<str:event_name>", CommunityWebhookEventView.as_view(), name="webhook-community-event"),
]
