"""The graph comparison that proves a restructuring changes nothing AWS would see must see changes."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from offline import graphs


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("graphs")
    graphs.record(out)
    return out


def edited(recorded: Path, tmp_path: Path, variant: str, edit: object) -> Path:
    copy = tmp_path / "new"
    shutil.copytree(recorded, copy)
    data = json.loads((copy / f"{variant}.json").read_text())
    edit(data)  # type: ignore[operator]
    (copy / f"{variant}.json").write_text(json.dumps(data))
    return copy


def test_a_recording_is_identical_to_itself_for_all_four_variants(recorded: Path) -> None:
    lines = graphs.compare(recorded, recorded, [])
    assert [line.split(":")[0] for line in lines] == ["dev", "prod", "prod-flipped", "prod-pilot-light"]
    assert all(": identical;" in line for line in lines)


def test_the_flipped_and_pilot_light_variants_differ_from_prod(recorded: Path) -> None:
    prod = json.loads((recorded / "prod.json").read_text())
    for variant in ("prod-flipped", "prod-pilot-light"):
        assert json.loads((recorded / f"{variant}.json").read_text()) != prod


def test_a_changed_input_option_or_dependency_is_reported(recorded: Path, tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        key = "aws:rds/cluster:Cluster fintech-prod-db-cluster"
        data["resources"][key]["inputs"]["deletionProtection"] = False
        data["resources"][key]["delete_before_replace"] = True
        data["resources"][key]["dependencies"] = []

    lines = graphs.compare(recorded, edited(recorded, tmp_path, "prod", change), [])
    report = "\n".join(lines)
    for field in ("inputs differ: deletionProtection", "delete_before_replace differs", "dependencies differs"):
        assert f"aws:rds/cluster:Cluster fintech-prod-db-cluster: {field}" in report
    assert graphs.main(["compare", str(recorded), str(tmp_path / "new")]) == 1


def test_a_rename_is_applied_to_the_older_recording_only(recorded: Path, tmp_path: Path) -> None:
    def rename(data: dict[str, Any]) -> None:
        text = json.dumps(data).replace("fintech-dev", "fintech-devx")
        data.clear()
        data.update(json.loads(text))

    new = edited(recorded, tmp_path, "dev", rename)
    assert any(line.startswith("  only after") for line in graphs.compare(recorded, new, []))
    assert ": identical;" in graphs.compare(recorded, new, [("fintech-dev", "fintech-devx")])[0]
