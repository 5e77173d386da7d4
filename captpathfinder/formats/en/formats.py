"""English formats for LANGUAGE_CODE "en-us" (Django tries en_US, then en, then its own).

Every moment reads "Dec 6, 2026 14:22 EST": a 24-hour clock and the zone's abbreviation, because
operators in other zones read the same pages and TIME_ZONE (America/New_York) is not theirs.
Input formats are Django's: only how values are shown changes.
"""

DATE_FORMAT = "M j, Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "M j, Y H:i T"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "F j"
# The short names too: a page that asks for a "short" moment still writes the one format.
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
