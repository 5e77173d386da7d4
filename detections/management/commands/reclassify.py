from django.core.management.base import BaseCommand

from detections.services.reclassification import members_reclassify


class Command(BaseCommand):
    help = (
        "Re-evaluate every stored senior member under the active ruleset and apply the removals, level "
        "and function changes (promotions recorded as detections), as the webhook path would. "
        "--dry-run only lists them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list the changes without applying them")

    def handle(self, *args, dry_run, **options):
        changes, read = members_reclassify(dry_run=dry_run, user=None, via="command")
        for change in changes:
            new = f"{change.new_level}/{change.new_function}" if change.new_level else "removed"
            old = f"{change.old_level}/{change.old_function}"
            self.stdout.write(f"{change.user_id}\t{old} -> {new}\t{change.title}\t({change.rule})")
        verb = "would change" if dry_run else "changed"
        removed = sum(1 for c in changes if c.new_level is None)
        functions = sum(1 for c in changes if c.function_changed)
        self.stdout.write(
            f"{read} members read; {verb} {len(changes)} ({removed} removed, {functions} with a new function)"
        )
