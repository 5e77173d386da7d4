"""The ruleset speed check in a fresh interpreter: the ruleset's text on stdin, the verdict as the
exit status (0 in time, 3 too slow). engine.Ruleset._check_speed runs it when a forked probe hangs.
"""

import sys

from classification.engine import Ruleset

if __name__ == "__main__":
    Ruleset.from_text(sys.stdin.read(), probe_speed=False)._speed_probe(exit=True)
