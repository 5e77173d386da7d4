import sys

from django.core.management.base import BaseCommand, CommandError

from classification.evaluation import SHIPPED_LABELS, confirmed_labels_read, labelled_titles_read, ruleset_evaluate
from classification.services import ruleset_active


class Command(BaseCommand):
    help = (
        "Classify job titles with the active ruleset, printing 'level<TAB>title' per title "
        "(level: csuite, vp or none). Titles come from the arguments or --file (one per line, - for stdin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("titles", nargs="*", help="job titles")
        parser.add_argument("--file", help="a file with one title per line, or - for standard input")
        parser.add_argument(
            "--explain", action="store_true", help="also print the function, the deciding rule and the version"
        )
        parser.add_argument(
            "--evaluate",
            metavar="TSV",
            nargs="?",
            const="",
            help="measure accuracy on a labelled file of 'level<TAB>title' lines; without one, on the shipped "
            "labelled set and the confirmed labels",
        )

    def handle(self, *args, titles, file, explain, evaluate, **options):
        ruleset = ruleset_active()
        if evaluate is not None:
            if evaluate:
                return self._evaluate(ruleset, evaluate)
            self._evaluate(ruleset, SHIPPED_LABELS, label="shipped labelled set")
            return self._report(ruleset, ruleset_evaluate(ruleset, confirmed_labels_read()), "confirmed labels")
        if file:
            titles = list(titles) + self._read(file)
        if not titles:
            raise CommandError("give titles as arguments or with --file")
        for title in titles:
            result = ruleset.classify(title)
            line = f"{result.level or 'none'}\t{title}"
            if explain:
                line += f"\t{result.function or '-'}\t{result.rule}\t{result.version}"
            self.stdout.write(line)

    @staticmethod
    def _read(file: str) -> list[str]:
        try:
            text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        return [line for line in text.splitlines() if line.strip()]

    def _evaluate(self, ruleset, path, *, label: str = "") -> None:
        try:
            result = ruleset_evaluate(ruleset, labelled_titles_read(path))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self._report(ruleset, result, label)

    def _report(self, ruleset, result, label: str) -> None:
        where = "label" if label == "confirmed labels" else "line"
        for miss in result.misses:
            case = miss.case
            marker = "!" if case.required else " "
            self.stdout.write(
                f"{marker} {where} {case.line}: expected {case.expected_text}, got {miss.got_text} ({miss.rule}): "
                f"{case.title}"
            )
        prefix = f"{label}: " if label else ""
        self.stdout.write(
            f"{prefix}accuracy {result.accuracy:.2%} ({result.correct}/{result.total}) with rules {ruleset.version}; "
            f"required cases wrong: {len(result.required_misses)}"
        )
        for heading, tallies in (("language", result.by_language), ("function", result.by_function)):
            if len(tallies) > 1 or (tallies and heading == "function"):
                self.stdout.write(f"  by {heading}:")
                for key, tally in sorted(tallies.items()):
                    self.stdout.write(f"    {key:<12} {tally.accuracy:8.2%} ({tally.correct}/{tally.total})")
