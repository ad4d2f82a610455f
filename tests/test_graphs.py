"""The graph comparison that proves a restructuring changes nothing AWS would see must see changes."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from offline import graphs

# One worker records once for the module.
pytestmark = pytest.mark.xdist_group("graphs")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("graphs")
    graphs.record(out, ("dev", "prod"))
    return out


def edited(recorded: Path, tmp_path: Path, variant: str, edit: object) -> Path:
    copy = tmp_path / "new"
    shutil.copytree(recorded, copy)
    data = json.loads((copy / f"{variant}.json").read_text())
    edit(data)  # type: ignore[operator]
    (copy / f"{variant}.json").write_text(json.dumps(data))
    return copy


def test_a_recording_is_identical_to_itself(recorded: Path) -> None:
    lines = graphs.compare(recorded, recorded, [])
    assert [line.split(":")[0] for line in lines] == ["dev", "prod"]
    assert all(": identical;" in line for line in lines)


def test_the_four_variants_are_dev_prod_and_prod_flipped_and_in_pilot_light() -> None:
    assert graphs.overrides("dev") == ("dev", {})
    assert graphs.overrides("prod") == ("prod", {})
    assert graphs.overrides("prod-flipped") == ("prod", {"primaryRegion": "eu-central-1"})
    assert graphs.overrides("prod-pilot-light") == ("prod", {"standbyMode": "pilot-light"})


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
