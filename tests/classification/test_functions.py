"""What a senior executive runs: where the engine reads the function, and how a ruleset states it."""

import pytest

from classification.engine import Ruleset, RulesetError

RULES = r"""
version: "functions-test"
roles:
  - id: csuite.cxo
    level: csuite
    pattern: 'c[eft]o'
  - id: csuite.president
    level: csuite
    function: general
    pattern: 'president'
  - id: csuite.chief-officer
    level: csuite
    pattern: 'chief (?:\w+ ){1,3}officer'
  - id: vp.vp
    level: vp
    pattern: 'vp|svp'
vetoes:
  - id: veto.former
    pattern: '\bformer$'
functions:
  - id: function.marketing
    function: marketing
    pattern: 'product marketing|marketing'
  - id: function.product
    function: product
    pattern: 'product'
  - id: function.finance
    function: finance
    pattern: 'cfo|financial|finance'
  - id: function.engineering
    function: engineering
    pattern: 'cto|engineering'
  - id: function.general
    function: general
    pattern: 'ceo'
  - id: function.sales
    function: sales
    pattern: 'sales|revenue'
  - id: function.legal
    function: legal
    pattern: 'legal'
"""


@pytest.fixture(scope="module")
def rules():
    return Ruleset.from_text(RULES)


@pytest.mark.parametrize(
    "title,function",
    [
        ("CFO", "finance"),  # 1. in the role itself
        ("Chief Revenue Officer", "sales"),
        ("CEO", "general"),
        ("VP of Engineering", "engineering"),  # 2. the words after it
        ("SVP, Sales and Marketing", "sales"),  # the leftmost in a region
        ("VP Product Marketing", "marketing"),  # listed first where two start together
        ("VP Product", "product"),
        ("Finance VP", "finance"),  # 3. the words before it
        ("President", "general"),  # 4. the role's own default
        ("President Sales", "sales"),  # ... after the words next to it
        ("Finance President", "finance"),
        ("President, Acme Marketing Group", "general"),  # past a comma or "at": the employer
        ("President at Legal Zoom", "general"),
        ("Acme Engineering, President", "general"),
        ("VP | Engineering", "engineering"),  # 5. anywhere else in the title
        ("VP", "other"),  # 6. nothing says
        ("VP Sales & CTO", "engineering"),  # the role that decided the level is the one read
        ("VP Sales, Former CFO", "sales"),  # a vetoed role is not
        ("VP & Former CEO", "other"),  # ... nor its words, when the title is searched for a function
    ],
)
def test_the_function_is_read_for_the_deciding_role(rules, title, function):
    result = rules.classify_uncached(title)

    assert result.is_senior
    assert result.function == function, result


def test_a_title_that_is_not_senior_has_no_function(rules):
    assert rules.classify_uncached("Sales Manager").function is None
    assert rules.classify_uncached("Former CFO").function is None


def test_without_a_functions_section_senior_titles_are_other_or_their_roles_default():
    rules = Ruleset.from_text(RULES[: RULES.index("functions:")])

    assert rules.classify_uncached("CFO").function == "other"
    assert rules.classify_uncached("President").function == "general"


@pytest.mark.parametrize(
    "change,message",
    [
        (("    function: general\n    pattern: 'president'", "    function: boss\n    pattern: 'president'"),
         "role csuite.president: unknown function 'boss'"),
        (("function: sales\n", "function: revenue\n"), "function function.sales: unknown function 'revenue'"),
        (("pattern: 'sales|revenue'", "pattern: 'sales|revenue'\n    examples: ['Sales Manager']"),
         "'Sales Manager' (example of function.sales) should be a senior sales title, is not senior"),
        (("pattern: 'sales|revenue'", "pattern: 'sales|revenue'\n    examples: ['VP Finance']"),
         "'VP Finance' (example of function.sales) should be a senior sales title, is vp/finance"),
        (("pattern: 'product'", "pattern: '(?=product)'"), "function function.product: bad pattern"),
        (("  - id: function.product", "  - id: function.marketing"), "function id 'function.marketing' is used twice"),
    ],
)  # fmt: skip
def test_a_ruleset_with_a_bad_function_is_refused_naming_it(change, message):
    with pytest.raises(RulesetError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        Ruleset.from_text(RULES.replace(*change))
