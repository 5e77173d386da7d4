"""Which members and detections an audience hears about: the one reading of its filter, for every
build, alert and preview."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from django_countries import countries

# Names members type that are neither an ISO 3166 code nor its English short name.
COUNTRY_ALIASES = {
    "united states": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "holland": "NL",
    "the netherlands": "NL",
    "korea": "KR",
    "uae": "AE",
}


@functools.lru_cache(maxsize=4096)
def country_code(text: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country as a member typed it ("Germany", "DE", "DEU", "UK"),
    or "" when it cannot be read: such a member matches no audience that filters on countries."""
    text = " ".join(text.split())
    if not text:
        return ""
    return countries.alpha2(text) or countries.by_name(text) or COUNTRY_ALIASES.get(text.casefold(), "")


def company_key(text: str) -> str:
    """How company names and domains compare: case and spacing do not count."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class AudienceFilter:
    """An audience's filter; an empty set matches everything."""

    levels: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    companies: frozenset[str] = frozenset()  # company_key of names and domains alike

    @classmethod
    def of(cls, audience) -> AudienceFilter:
        return cls(
            levels=frozenset(audience.levels),
            kinds=frozenset(audience.kinds),
            countries=frozenset(str(code) for code in audience.countries),
            companies=frozenset(company_key(entry) for entry in audience.companies if entry.strip()),
        )

    def member_matches(self, member) -> bool:
        """`member` has level, country, company and email_domain (selectors.MemberNow, or a
        detection's snapshot, which has no email_domain)."""
        if self.levels and member.level not in self.levels:
            return False
        if self.countries and country_code(member.country) not in self.countries:
            return False
        return not self.companies or self._company_matches(member)

    def _company_matches(self, member) -> bool:
        if company_key(member.company) in self.companies:
            return True
        domain = company_key(getattr(member, "email_domain", ""))
        return bool(domain) and any(domain == entry or domain.endswith(f".{entry}") for entry in self.companies)

    def detections(self, detections: Iterable) -> list:
        """The detections of the kinds it hears about (anything with `kind`)."""
        return [d for d in detections if not self.kinds or d.kind in self.kinds]
