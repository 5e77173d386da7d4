"""The links that go out with a detection: the member's profile and the correction page."""

from detections import links


def test_profile_links_only_use_http_schemes(settings):
    settings.COMMUNITY_PROFILE_URL_TEMPLATE = "javascript:alert({user_id})"

    assert links.profile_url("1", "x") == ""


def test_a_profile_link_quotes_the_member_as_a_path(settings):
    settings.COMMUNITY_PROFILE_URL_TEMPLATE = "https://community.example.com/members/{username}-{user_id}"

    assert links.profile_url("42", "Jane Roe/x") == "https://community.example.com/members/Jane%20Roe%2Fx-42"


def test_the_correction_link_needs_a_public_admin_url(settings):
    settings.ADMIN_PUBLIC_URL = ""
    assert links.correct_url(7) == ""

    settings.ADMIN_PUBLIC_URL = "https://captpathfinder.example.com/"
    assert links.correct_url(7) == "https://captpathfinder.example.com/admin/detections/detection/7/correct/"
