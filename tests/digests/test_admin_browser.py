"""The digest deliveries page as an operator sees it, in headless Chromium: each delivery's
state and its bot run's status. Set SCREENSHOT_DIR to keep the screenshot."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from digests import services
from digests.services.runs import deliveries_runs_check
from tests.factories import SeniorDetectionFactory
from tests.fixtures.control_room import AA_EMAIL_BOT_ID

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_an_operator_sees_each_delivery_and_its_bot_run(screen, browser, control_room):
    control_room.bot_run_statuses = {AA_EMAIL_BOT_ID: ["RUN_FAILED"]}
    control_room.run_statuses = ["RUNNING"]
    for _ in range(3):
        SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    services.digest_build_weekly()
    services.deliveries_send_due()
    deliveries_runs_check(every=timedelta(0))

    screen("/admin/digests/digestdelivery/", "digest-deliveries")

    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")]
    assert len(rows) == 2
    email = next(row for row in rows if "Email" in row)
    teams = next(row for row in rows if "Microsoft Teams" in row)
    assert "Failed, will retry" in email and "RUN_FAILED" in email and "bot run RUN_FAILED" in email
    assert "Deployed: bot run not finished" in teams and "RUNNING" in teams
