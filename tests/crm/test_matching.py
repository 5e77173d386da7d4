"""Company names and websites as the hand-off compares them."""

import pytest

from crm.services.matching import company_key, website_domain


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme", "acme"),
        ("ACME, Inc.", "acme"),
        ("Acme Inc", "acme"),
        ("Acme Corporation", "acme"),
        ("Siemens AG", "siemens"),
        ("Bosch GmbH", "bosch"),
        ("Telefónica S.A.", "telefónica"),
        ("Sony Group K.K.", "sony"),
        ("Initech Holdings Ltd.", "initech"),
        ("Pied  Piper,  LLC", "pied piper"),
        ("The Co", "the"),
        ("Inc", "inc"),  # a name that is only a legal form stays a name
        ("", ""),
    ],
)
def test_a_company_name_is_compared_without_case_punctuation_or_legal_form(name, key):
    assert company_key(name) == key


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.acme.com/en/about", "acme.com"),
        ("http://acme.com", "acme.com"),
        ("www.Acme.com", "acme.com"),
        ("acme.com", "acme.com"),
        ("https://eu.acme.com:8443", "eu.acme.com"),
        ("", ""),
        (None, ""),
    ],
)
def test_a_website_is_compared_by_its_domain_without_scheme_or_www(website, domain):
    assert website_domain(website) == domain
