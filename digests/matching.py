"""Which members and detections an audience hears about: the one reading of its filter, for every
build, alert and preview."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    functions: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    companies: frozenset[str] = frozenset()  # company_key of names and domains alike

    @classmethod
    def of(cls, audience) -> AudienceFilter:
        return cls(
            levels=frozenset(audience.levels),
            functions=frozenset(audience.functions),
            kinds=frozenset(audience.kinds),
            countries=frozenset(str(code) for code in audience.countries),
            companies=frozenset(company_key(entry) for entry in audience.companies if entry.strip()),
        )

    def member_matches(self, member) -> bool:
        """`member` has level, function, country, company and email_domain (selectors.MemberNow,
        or a detection's snapshot, which has no email_domain)."""
        level, function, country, companies = member_keys(member)
        if self.levels and level not in self.levels:
            return False
        if self.functions and function not in self.functions:
            return False
        if self.countries and country not in self.countries:
            return False
        return not self.companies or not self.companies.isdisjoint(companies)

    @property
    def filters_members(self) -> bool:
        return bool(self.levels or self.functions or self.countries or self.companies)

    def members_matching(self, index: MemberIndex) -> set[str] | None:
        """The user ids of the indexed members it matches (None: all of them), by set operations:
        what member_matches says of each, for a whole build at once."""
        matching = None
        for wanted, keyed in ((self.levels, index.by_level), (self.functions, index.by_function),
                              (self.countries, index.by_country), (self.companies, index.by_company)):  # fmt: skip
            if wanted:
                ids = set().union(*(keyed.get(key, ()) for key in wanted))
                matching = ids if matching is None else matching & ids
        return matching

    def detections(self, detections: Iterable) -> list:
        """The detections of the kinds it hears about (anything with `kind`)."""
        return [d for d in detections if not self.kinds or d.kind in self.kinds]


def member_keys(member) -> tuple[str, str, str, frozenset[str]]:
    """What a filter compares of a member: level, function, country code, and company keys — the
    company name and the email domain with each parent domain (eu.acme.com, acme.com; not the
    bare TLD)."""
    labels = company_key(getattr(member, "email_domain", "")).split(".")
    domains = (".".join(labels[i:]) for i in range(len(labels) - 1))
    companies = frozenset(key for key in (company_key(member.company), *domains) if key)
    return member.level, member.function, country_code(member.country), companies


@dataclass
class MemberIndex:
    """Members by each key a filter compares, built once for a build's audiences."""

    by_level: dict[str, set[str]] = field(default_factory=dict)
    by_function: dict[str, set[str]] = field(default_factory=dict)
    by_country: dict[str, set[str]] = field(default_factory=dict)
    by_company: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, members: Iterable) -> MemberIndex:
        index = cls()
        for member in members:
            level, function, country, companies = member_keys(member)
            index.by_level.setdefault(level, set()).add(member.user_id)
            index.by_function.setdefault(function, set()).add(member.user_id)
            index.by_country.setdefault(country, set()).add(member.user_id)
            for key in companies:
                index.by_company.setdefault(key, set()).add(member.user_id)
        return index
