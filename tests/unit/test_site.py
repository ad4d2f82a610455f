"""A site is one component per region whose children are that region's tiers; the program builds
one per region, then what stands between them, and a site that waits for something fails, never hangs."""

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from offline.harness import ProgramError, ResourceRecord, StackRun, run_stack

REPO = Path(__file__).resolve().parents[2]
SITE = "fintech:site:Site"
TIERS = {
    "fintech:security:Security",
    "fintech:network:Network",
    "fintech:security:SecurityGroups",
    "fintech:data:Database",
    "fintech:data:Rotation",
    "fintech:storage:Storage",
    "fintech:app:LoadBalancer",
    "fintech:app:Compute",
    "fintech:monitoring:Monitoring",
}


def children(run: StackRun, parent_urn: str) -> list[str]:
    return [r.type for r in run.resources if r.parent == parent_urn]


@pytest.fixture(scope="module")
def prod() -> StackRun:
    return run_stack("prod")


def test_each_region_is_one_site_whose_children_are_its_tiers(dev: StackRun, prod: StackRun) -> None:
    (site,) = dev.of_type(SITE)
    assert site.name == "fintech-dev"
    assert sorted(children(dev, site.urn)) == sorted(TIERS), "a site is exactly its region's tiers"
    sites = {s.name: s for s in prod.of_type(SITE)}
    assert set(sites) == {"fintech-prod", "fintech-prod-standby"}
    for s in sites.values():
        assert sorted(children(prod, s.urn)) == sorted(TIERS)


def test_every_resource_of_a_site_goes_through_its_regions_provider(prod: StackRun) -> None:
    by_urn = {r.urn: r for r in prod.resources}
    regions = {r.urn: r.inputs["region"] for r in prod.of_type("pulumi:providers:aws")}

    def site_of(record: ResourceRecord) -> str:
        while record.parent in by_urn:
            record = by_urn[record.parent]
            if record.type == SITE:
                return record.name
        return ""

    members: dict[str, set[str]] = {}
    for r in prod.resources:
        if r.type.startswith("aws:") and (site := site_of(r)):
            members.setdefault(site, set()).add(regions[r.provider.rsplit("::", 1)[0]])
    assert members == {"fintech-prod": {"eu-west-1"}, "fintech-prod-standby": {"eu-central-1"}}


def test_the_pieces_between_sites_stand_beside_them(prod: StackRun, dev: StackRun) -> None:
    def beside(run: StackRun) -> set[str]:
        return {r.type for r in run.resources if not r.custom and r.parent.split("::")[-2] == "pulumi:pulumi:Stack"}

    between = {"fintech:data:Secrets", "fintech:edge:Edge", "fintech:audit:AuditTrail"}
    assert beside(dev) == {SITE, *between}
    assert beside(prod) == {
        SITE,
        *between,
        "fintech:backup:Backup",
        "fintech:data:Replication",
        "fintech:edge:OriginFailover",
        "fintech:network:Peering",
        "fintech:ops:FailoverRecords",
    }


def test_main_builds_a_site_per_region_and_asks_once_whether_there_is_a_standby() -> None:
    source = (REPO / "__main__.py").read_text()
    assert len(source.splitlines()) <= 250
    # `if settings.standby_region:` once; no other `if`/conditional expression about a standby.
    asks = re.findall(r"\bif\b[^:\n]*\b(?:standby\w*|dr\w*)\b", source)
    assert asks == ["if settings.standby_region"], asks
    assert not re.search(r"\bdr_\w+\s*=", source), "no dr_ twins"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_imports_flow_one_way() -> None:
    """__main__ -> site and between -> tiers -> settings/policies: a tier never imports a site,
    what stands between sites, or the program."""
    # across_sites.py builds values from several sites: it may import site.py, like __main__.
    tiers = [
        p
        for p in (REPO / "components" / "site").glob("*.py")
        if p.name not in ("site.py", "__init__.py", "across_sites.py")
    ]
    assert len(tiers) == 10  # baseline.py: the account baseline (accountBaseline)
    assert not {m for m in _imports(REPO / "components" / "site" / "across_sites.py") if "between" in m}
    for tier in tiers:
        bad = {m for m in _imports(tier) if m.startswith(("components.between", "components.site.site", "__main__"))}
        assert not bad, f"{tier.name} imports {bad}"
    for piece in (REPO / "components" / "between").glob("*.py"):
        assert "components.site.site" not in _imports(piece), piece.name
    for shared in ("settings.py", "policies.py", "certificates.py", "naming.py", "failover_record.py"):
        assert not {m for m in _imports(REPO / "components" / shared) if m.startswith("components.s")} - {
            "components.settings"
        }, shared


def _main_with(tmp_path: Path, old: str, new: str) -> Path:
    source = (REPO / "__main__.py").read_text()
    assert old in source
    program = tmp_path / "__main__.py"
    program.write_text(source.replace(old, new, 1))
    return program


def test_a_site_never_given_what_it_waits_for_is_named_not_hung(tmp_path: Path) -> None:
    (line,) = re.findall(r"        edge=EdgeWatch\(.*\),\n", (REPO / "__main__.py").read_text())
    program = _main_with(tmp_path, line, "")
    with pytest.raises(
        ProgramError, match=r"site eu-west-1 still waits for edge\.distribution_id, edge\.web_acl_metric_name"
    ):
        run_stack("dev", program=program)


def test_a_site_given_what_it_was_not_built_for_is_refused(tmp_path: Path) -> None:
    program = _main_with(
        tmp_path,
        "Links(app_secret_arn=secrets.replica_secret_arn, backup_vault_name=backup.vault_name if backup else None)",
        "Links(app_secret_arn=secrets.replica_secret_arn, backup_vault_name=backup.vault_name if backup else None,"
        " peer_secrets_key_arn='k')",
    )
    with pytest.raises(ProgramError, match=r"site eu-central-1 does not wait for peer_secrets_key_arn"):
        run_stack("prod", program=program)


def test_a_failure_between_the_sites_fails_the_run_at_once_and_says_so_once(tmp_path: Path) -> None:
    """The sites' app tiers already wait for the credential: the failure must reach them, and the
    outputs it fails must not each print it again (asyncio reports unread failed futures when they
    are collected, at the latest when the process exits: hence a process of its own)."""
    program = _main_with(
        tmp_path, "    edge = Edge(", "    raise RuntimeError('broken between the sites')\n    edge = Edge("
    )
    script = (
        "from pathlib import Path\n"
        "from offline.harness import ProgramError, run_stack\n"
        "try:\n"
        f"    run_stack('dev', program=Path({str(program)!r}))\n"
        "except ProgramError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=240, check=True
    )
    assert "the program failed: broken between the sites" in done.stdout
    assert "never retrieved" not in done.stderr, f"{done.stderr.count('never retrieved')} echoes of one failure"


# AWS Backup Audit Manager ("Choosing your controls"; parameters as the AWS Config rules take them).
FRAMEWORK = "aws:backup/framework:Framework"


def test_prod_audits_its_backups_per_site_once_config_records() -> None:
    """backupAuditFramework (off until AWS Config records the account, docs/backups.md) gives each
    site a framework in its region: its cluster in a plan, a daily rule kept backupDailyRetentionDays,
    no manual deletion of points, a copy scheduled to the other site's region."""
    prod = run_stack("prod", {"backupAuditFramework": "true"})
    frameworks = {f.name: f for f in prod.of_type(FRAMEWORK)}
    assert {f: r.region for f, r in frameworks.items()} == {
        "fintech-prod-monitoring-backup-audit": "eu-west-1",
        "fintech-prod-standby-monitoring-backup-audit": "eu-central-1",
    }
    for name, copy_region in (
        ("fintech-prod-monitoring-backup-audit", "eu-central-1"),
        ("fintech-prod-standby-monitoring-backup-audit", "eu-west-1"),
    ):
        framework = frameworks[name]
        assert re.fullmatch(r"[A-Za-z]\w{0,255}", framework.inputs["name"]), "letters, digits, underscores"
        controls = {c["name"]: c for c in framework.inputs["controls"]}
        assert set(controls) == {
            "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
            "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
        }

        def parameters(control: str, controls: dict[str, Any] = controls) -> dict[str, str]:
            return {p["name"]: p["value"] for p in controls[control].get("inputParameters") or []}

        assert parameters("BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK") == {
            "requiredFrequencyUnit": "days",
            "requiredFrequencyValue": "1",
            "requiredRetentionDays": prod.config.get("payments-platform:backupDailyRetentionDays", "35"),
        }
        assert parameters("BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION") == {"crossRegionList": copy_region}
        assert parameters("BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED") == {}, "no role may delete points"
        for scoped in ("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION"):
            assert controls[scoped]["scope"]["complianceResourceTypes"] == ["Aurora"], scoped


def test_no_framework_until_asked_and_never_without_backups(dev: StackRun, prod: StackRun) -> None:
    assert not prod.of_type(FRAMEWORK), "prod turns it on once AWS Config records (docs/backups.md)"
    assert not dev.of_type(FRAMEWORK)
    with pytest.raises(ProgramError, match="backupAuditFramework"):
        run_stack("dev", {"backupAuditFramework": "true"})
