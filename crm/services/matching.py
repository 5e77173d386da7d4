"""Which Salesforce Account a member works for: by their email domain against the Account's
Website, and by company name, normalised. An operator's earlier pick for the domain or the
company wins over both."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from integrations.salesforce.client import SalesforceClient, soql_quote

from ..models import AccountPick

# Legal forms left out of a company name when names are compared ("Acme Inc." is "Acme"), after
# case and punctuation are gone. Several words where the form is written apart ("s a" from S.A.).
LEGAL_SUFFIXES = (
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "llp", "lp",
    "plc", "gmbh", "ag", "kg", "se", "sa", "s a", "sas", "sarl", "srl", "spa", "s p a", "bv", "b v", "nv",
    "n v", "ab", "as", "asa", "oy", "oyj", "aps", "kk", "k k", "pty", "pty ltd", "pte", "pte ltd", "sl",
    "sp z o o", "kft", "zrt", "sro", "s r o", "holding", "holdings", "group",
)  # fmt: skip
_SUFFIXES = "|".join(sorted((re.escape(s) for s in LEGAL_SUFFIXES), key=len, reverse=True))
_SUFFIX = re.compile(rf"(?:\s(?:{_SUFFIXES}))+$")
ACCOUNT_FIELDS = "Id, Name, Website, OwnerId"
NAME_CANDIDATES_MAX = 200  # accounts read for a name: enough for one company's, few enough to stay cheap


def company_key(name: str) -> str:
    """A company name as names are compared: letters and digits in lower case, single spaces, the
    legal form dropped. "ACME, Inc." and "Acme Inc" are both "acme"; "" for no name."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"[^\w]+", " ", text).replace("_", " ").strip()
    text = re.sub(r"\s+", " ", text)
    stripped = _SUFFIX.sub("", f" {text}").strip()
    return stripped or text


def website_domain(website: str | None) -> str:
    """An Account's Website as a domain: the scheme, "www." and any path dropped, lower case."""
    if not website:
        return ""
    text = website.strip().casefold()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.removeprefix("www.")


@dataclass
class Match:
    """The account found (`account`: Id, Name, Website, OwnerId), or why none: several
    (`candidates`) or none at all."""

    account: dict | None = None
    candidates: list[dict] = field(default_factory=list)
    picked: bool = False

    @property
    def ambiguous(self) -> bool:
        return self.account is None and len(self.candidates) > 1


def pick_keys(*, company: str, email_domain: str) -> list[str]:
    """The keys an operator's pick may be remembered under, the domain first (it decides)."""
    keys = []
    if email_domain:
        keys.append(f"domain:{email_domain.casefold()}")
    if company_key(company):
        keys.append(f"company:{company_key(company)}")
    return keys


def pick_key(candidates: list[dict], *, company: str, email_domain: str) -> str:
    """The one key an operator's pick among `candidates` is remembered under: what made them match.
    The email domain when they matched by it (several accounts at one website domain), else the
    company name. Never a bare domain that did not match: a pick for one gmail.com member must not
    send every other gmail.com member's Task to that account."""
    if email_domain and any(_domain_matches(account, email_domain) for account in candidates):
        return f"domain:{email_domain.casefold()}"
    key = company_key(company)
    return f"company:{key}" if key else ""


def account_find(client: SalesforceClient, *, company: str, email_domain: str) -> Match:
    """The member's Account. An operator's pick for the domain or company first; else the accounts
    whose Website is the email domain and those whose name is the company's: one of them is the
    match; several, the domain decides; still several, ambiguous (an operator picks)."""
    keys = pick_keys(company=company, email_domain=email_domain)
    pick = AccountPick.objects.filter(match_key__in=keys).order_by("-match_key").first()  # "domain:" > "company:"
    if pick is not None:
        where = f"Id = {soql_quote(pick.account_id)}"
        found = client.query(f"SELECT {ACCOUNT_FIELDS} FROM Account WHERE {where}")  # noqa: S608 (soql_quote)
        if found:
            return Match(account=_plain(found[0]), picked=True)
    candidates: dict[str, dict] = {}
    if email_domain:
        # LIKE finds the Website however it is written (https://www.acme.com/en); the domain is then compared exactly.
        pattern = _like_containing(email_domain)
        query = f"SELECT {ACCOUNT_FIELDS} FROM Account WHERE Website LIKE {pattern} LIMIT {NAME_CANDIDATES_MAX}"  # noqa: S608
        for record in client.query(query):
            candidates[record["Id"]] = _plain(record)
    key = company_key(company)
    if key:
        # SOQL cannot compare normalised names: the accounts whose name holds the name's longest word
        # (at its start, for a word too short to be telling: "HP") are read, at most NAME_CANDIDATES_MAX
        # of them, and compared here.
        word = max(key.split(" "), key=len)
        pattern = _like_containing(word) if len(word) >= 3 else _like_starting(word)
        query = f"SELECT {ACCOUNT_FIELDS} FROM Account WHERE Name LIKE {pattern} LIMIT {NAME_CANDIDATES_MAX}"  # noqa: S608
        for record in client.query(query):
            candidates[record["Id"]] = _plain(record)
    by_domain = [a for a in candidates.values() if email_domain and _domain_matches(a, email_domain)]
    by_name = [a for a in candidates.values() if key and company_key(a.get("Name") or "") == key]
    matched = by_domain or by_name
    if len(matched) == 1:
        return Match(account=matched[0])
    if len(by_domain) > 1 and by_name:  # several at the domain: the one also named so decides
        both = [a for a in by_domain if a in by_name]
        if len(both) == 1:
            return Match(account=both[0])
    return Match(candidates=sorted(matched, key=lambda a: (a.get("Name") or "", a["Id"])))


def _domain_matches(account: dict, email_domain: str) -> bool:
    domain = website_domain(account.get("Website"))
    wanted = email_domain.casefold()
    return bool(domain) and (domain == wanted or wanted.endswith(f".{domain}"))


def _like_literal(text: str) -> str:
    """`text` inside a LIKE pattern: escaped as a string literal (soql_quote), and LIKE's own
    wildcards, % and _, escaped with a backslash as SOQL documents."""
    return soql_quote(text)[1:-1].replace("%", "\\%").replace("_", "\\_")


def _like_containing(text: str) -> str:
    return f"'%{_like_literal(text)}%'"


def _like_starting(text: str) -> str:
    return f"'{_like_literal(text)}%'"


def _plain(record: dict) -> dict:
    return {name: record.get(name) for name in ("Id", "Name", "Website", "OwnerId")}
