from django.urls import path

from digests.api import DigestSendView

urlpatterns = [
    path("digests/send", DigestSendView.as_view(), name="api-digests-send"),
]
