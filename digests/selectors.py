from django.db.models import Count

from .models import DigestDelivery


def deliveries_count_by_status() -> dict[str, int]:
    rows = DigestDelivery.objects.values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
