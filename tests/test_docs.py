"""The README's generated tables match Pulumi.yaml, the stack files and the program's outputs."""

from offline import docs


def test_readme_tables_are_current() -> None:
    readme = docs.README.read_text()
    assert docs.render(readme) == readme, "run `.venv/bin/python -m offline.docs` and commit README.md"


def test_pulumi_yaml_config_is_generated_from_the_declarations() -> None:
    text = docs.PULUMI_YAML.read_text()
    assert docs.render_pulumi_yaml(text) == text, "run `.venv/bin/python -m offline.docs` and commit Pulumi.yaml"


def test_every_setting_and_output_is_documented() -> None:
    readme = docs.README.read_text()
    assert "| `vpcCidr` | string | `10.0.0.0/16` | `10.20.0.0/16` | `10.10.0.0/16` |" in readme
    for output in ("vpc_id", "alb_dns_name", "db_cluster_endpoint"):
        assert f"| `{output}` |" in readme
