"""The documentation: docs/settings.md's generated tables match Pulumi.yaml, the stack files and the
program's outputs; Pulumi.yaml's config block matches the declarations; every relative link and
anchor between the README and docs/*.md resolves; the README stays the front door."""

from pathlib import Path

import pytest

from offline import docs

RUNBOOKS = (
    "bootstrap.md",
    "deploy.md",
    "first-deploy.md",
    "database-credentials.md",
    "backups.md",
    "standby-region.md",
    "offline-plan.md",
    "policy-pack.md",
)


def test_settings_page_tables_are_current() -> None:
    page = docs.SETTINGS_PAGE.read_text()
    assert docs.blocks(page) == ["settings-table", "outputs-table"]
    assert docs.render(page) == page, "run `.venv/bin/python -m offline.docs` and commit docs/settings.md"


def test_a_stale_table_is_caught_and_rewritten() -> None:
    page = docs.SETTINGS_PAGE.read_text()
    row = "| `vpcCidr` | string | `10.0.0.0/16` | `10.20.0.0/16` | `10.10.0.0/16` |"
    stale = page.replace(row, "| `vpcCidr` | string | `10.0.0.0/16` | `10.20.0.0/16` | `10.99.0.0/16` |")
    missing = page.replace("| `vpc_id` |", "| `vpc_identifier` |")
    for wrong in (stale, missing):
        assert wrong != page
        assert docs.render(wrong) != wrong  # what test_settings_page_tables_are_current asserts goes red
        assert docs.render(wrong) == page


def test_the_generated_tables_live_on_the_settings_page_only() -> None:
    for page in docs.pages():
        if page != docs.SETTINGS_PAGE:
            assert docs.blocks(page.read_text()) == [], f"{page.name}: the generated tables belong in settings.md"


def test_pulumi_yaml_config_is_generated_from_the_declarations() -> None:
    text = docs.PULUMI_YAML.read_text()
    assert docs.render_pulumi_yaml(text) == text, "run `.venv/bin/python -m offline.docs` and commit Pulumi.yaml"


def test_every_setting_and_output_is_documented() -> None:
    page = docs.SETTINGS_PAGE.read_text()
    assert "| `vpcCidr` | string | `10.0.0.0/16` | `10.20.0.0/16` | `10.10.0.0/16` |" in page
    for output in ("vpc_id", "alb_dns_name", "db_cluster_endpoint"):
        assert f"| `{output}` |" in page


# --- Links --------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", docs.pages(), ids=lambda page: page.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert docs.broken_links(page) == []


def test_the_pages_checked_are_the_readme_and_the_docs_pages() -> None:
    names = [page.relative_to(docs.README.parent).as_posix() for page in docs.pages()]
    assert names[0] == "README.md"
    assert "docs/settings.md" in names
    assert "docs/design-decisions.md" in names


def test_the_readme_links_every_docs_page_and_both_pictures() -> None:
    targets = {target.partition("#")[0] for _, target in docs.links(docs.README.read_text())}
    for page in docs.pages()[1:]:
        assert f"docs/{page.name}" in targets, f"README.md does not link docs/{page.name}"
    assert {"docs/dev/architecture.png", "docs/prod/architecture.png"} <= targets


def test_the_readme_stays_the_front_door() -> None:
    lines = docs.README.read_text().splitlines()
    assert len(lines) <= 250, "README.md is the front door: move the detail into a docs/ page and link it"


@pytest.mark.parametrize("name", RUNBOOKS)
def test_each_runbook_starts_with_when_to_use_it(name: str) -> None:
    headings = [line for line in (docs.DOCS / name).read_text().splitlines() if line.startswith("#")]
    assert headings[1] == "## When to use it", f"{name}: a runbook starts with when to use it, then the commands"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Bootstrap (once per AWS account)", "bootstrap-once-per-aws-account"),
        ("CI for users (GitHub Actions)", "ci-for-users-github-actions"),
        (
            "The program's shape: sites, and what stands between them",
            "the-programs-shape-sites-and-what-stands-between-them",
        ),
        ("What the vault lock guarantees, and what it costs", "what-the-vault-lock-guarantees-and-what-it-costs"),
        ("Step 1 -- `make plan` *first*", "step-1----make-plan-first"),
        ("The [offline plan](docs/offline-plan.md)", "the-offline-plan"),
        ("snake_case and `__init__`", "snake_case-and-__init__"),
        ("snake_case and __init__", "snake_case-and-init"),  # __init__ renders as bold "init"
        ("Ünïcode, 2026!", "ünïcode-2026"),
    ],
)
def test_anchors_follow_githubs_slug_rules(heading: str, anchor: str) -> None:
    assert docs.slug(heading) == anchor


def test_repeated_headings_are_numbered_as_github_numbers_them() -> None:
    page = "# Notes\n## Commands\n### Commands\n## Commands\n```bash\n# Commands\n```\n<a id='kept'></a>\n"
    assert docs.anchors(page) == {"notes", "commands", "commands-1", "commands-2", "kept"}


def _pages(root: Path) -> Path:
    """A README linking into a docs/ directory of two pages, as the repository has."""
    (root / "docs" / "dev").mkdir(parents=True)
    (root / "docs" / "dev" / "architecture.png").write_bytes(b"")
    (root / "docs" / "runbook.md").write_text("# Runbook\n\n## When to use it\n\n## Commands\n\n## Commands\n")
    (root / "README.md").write_text("# Front door\n\n## Speed\n")
    return root / "README.md"


GOOD_LINKS = [
    "[runbook](docs/runbook.md)",
    "[when](docs/runbook.md#when-to-use-it)",
    "[second commands](docs/runbook.md#commands-1)",
    "[speed](#speed)",
    "[top](#front-door)",
    "![dev](docs/dev/architecture.png)",
    '![dev](docs/dev/architecture.png "the dev stack")',
    "[dir](docs/)",
    "[root](/docs/runbook.md)",
    "[ref]: docs/runbook.md#commands",
    '<img src="docs/dev/architecture.png" alt="dev">',
    "[external](https://example.com/missing#nowhere)",
    "`[in code](docs/missing.md)`",
    "```\n[in a code block](docs/missing.md)\n```",
    "[a bracket, then a paragraph\n\n](docs/missing.md) that is no link",
]

BROKEN_LINKS = [
    ("[runbook](docs/runbok.md)", "docs/runbok.md does not exist"),
    ("[when](docs/runbook.md#when-to-use)", "no heading of docs/runbook.md has the anchor #when-to-use"),
    ("[third commands](docs/runbook.md#commands-2)", "has the anchor #commands-2"),
    ("[speed](#sped)", "no heading of README.md has the anchor #sped"),
    ("[case](#Speed)", "has the anchor #Speed"),
    ("![prod](docs/prod/architecture.png)", "docs/prod/architecture.png does not exist"),
    ("[ref]: docs/gone.md", "docs/gone.md does not exist"),
    ('<img src="docs/prod/architecture.png">', "docs/prod/architecture.png does not exist"),
    ("[empty]()", "an empty link"),
    ("see [Deploy](#deploy) in a table | [x](#deploy) |", "has the anchor #deploy"),
    ("[text that runs\n  over two lines](docs/runbook.md#two-lines)", "has the anchor #two-lines"),
]


@pytest.mark.parametrize("link", GOOD_LINKS)
def test_the_link_check_passes_links_that_resolve(tmp_path: Path, link: str) -> None:
    readme = _pages(tmp_path)
    text = readme.read_text() + "\n" + link + "\n"
    assert docs.broken_links(readme, text, root=tmp_path) == []


@pytest.mark.parametrize(("link", "problem"), BROKEN_LINKS)
def test_the_link_check_reports_links_that_do_not(tmp_path: Path, link: str, problem: str) -> None:
    readme = _pages(tmp_path)
    text = readme.read_text() + "\n" + link + "\n"
    found = docs.broken_links(readme, text, root=tmp_path)
    assert found, f"{link} should be reported"
    assert all(problem in line and line.startswith("README.md:5: ") for line in found), found


def test_the_link_check_goes_red_on_a_broken_copy_of_a_real_page() -> None:
    page = docs.DOCS / "first-deploy.md"
    text = page.read_text()
    assert "(backups.md#restore-testing)" in text
    broken = text.replace("(backups.md#restore-testing)", "(backups.md#restore-tests)")
    assert docs.broken_links(page, broken) == [
        f"first-deploy.md:{_line_of(broken, 'backups.md#restore-tests')}: (backups.md#restore-tests) "
        "no heading of backups.md has the anchor #restore-tests"
    ]


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_batch_replication_command_is_a_valid_create_job_for_the_stacks_role() -> None:
    """What the runbook prescribes can run: its `aws s3control create-job` parameters pass botocore's
    validation against the S3 Control model (names, types, enums), and it names the role prod makes."""
    import json
    import re
    import shlex

    import botocore.session
    import botocore.validate

    from offline.harness import run_stack

    page = (Path(__file__).resolve().parent.parent / "docs" / "first-deploy.md").read_text()
    block = page.split("## Copying what replication missed", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    command = block.split("aws s3control create-job", 1)[1].split("aws s3control describe-job", 1)[0]
    command = command.replace("\\\n", " ")
    for variable, value in {"ACCOUNT": "123456789012", "SOURCE": "src-bucket", "LOGS": "logs-bucket"}.items():
        command = command.replace(f"'\"${variable}\"'", value).replace(f"${variable}", value)
    words = shlex.split(command)
    options = {w[2:]: words[i + 1] for i, w in enumerate(words) if w.startswith("--") and i + 1 < len(words)}
    assert "no-confirmation-required" in [w[2:] for w in words]
    params = {
        "AccountId": options["account-id"],
        "ConfirmationRequired": False,
        "Priority": int(options["priority"]),
        "RoleArn": options["role-arn"],
        "Operation": json.loads(options["operation"]),
        "ManifestGenerator": json.loads(options["manifest-generator"]),
        "Report": json.loads(options["report"]),
        "ClientRequestToken": "token",
    }
    model = botocore.session.get_session().get_service_model("s3control").operation_model("CreateJob")
    botocore.validate.validate_parameters(params, model.input_shape)  # names, types, required members
    assert _enum_violations(params, model.input_shape) == []  # which botocore leaves to the service
    (role,) = [r for r in run_stack("prod").of_type("aws:iam/role:Role") if r.name.endswith("-batch-role")]
    assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/{role.inputs['name']}", params["RoleArn"])
    assert (
        params["Report"]["Prefix"]
        == params["ManifestGenerator"]["S3JobManifestGenerator"]["ManifestOutputLocation"]["ManifestPrefix"]
        == "batch-replication"
    )


def _enum_violations(value: object, shape: object) -> list[str]:
    """Every string in ``value`` whose shape is an enum it is not one of (botocore does not check enums)."""
    members = getattr(shape, "members", None)
    if isinstance(value, dict) and members is not None:
        return [v for key, item in value.items() if key in members for v in _enum_violations(item, members[key])]
    if isinstance(value, list) and hasattr(shape, "member"):
        return [v for item in value for v in _enum_violations(item, shape.member)]
    enum = getattr(shape, "enum", None) or []
    return [f"{value!r} not in {enum}"] if isinstance(value, str) and enum and value not in enum else []
