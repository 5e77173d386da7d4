import pytest
from django.core.cache import cache

from crm.selectors import PAUSED_KEY, USAGE_KEY
from crm.services.handoffs import RUNNER_KEY


@pytest.fixture(autouse=True)
def _crm_cache_clear():
    """The hand-off's pause, usage and run lease live in the shared cache (Redis): none left over."""
    cache.delete_many([PAUSED_KEY, USAGE_KEY, RUNNER_KEY])
    yield
    cache.delete_many([PAUSED_KEY, USAGE_KEY, RUNNER_KEY])
