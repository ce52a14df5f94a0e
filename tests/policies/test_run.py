"""The one checkov command line the gate runs."""

from __future__ import annotations

from pathlib import Path

from compiler.policy.run import FRAMEWORKS, GateInput, command, unscannable


def test_command_is_offline_and_loads_our_policies(tmp_path: Path) -> None:
    target_dir = tmp_path / "generated"
    target_dir.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    gate = GateInput(Path("/x/checkov"), (target_dir, dockerfile), tmp_path / "policies")
    tmp_path = tmp_path.resolve()
    args = command(gate, tmp_path / "out")
    assert args[0] == "/x/checkov"
    assert "--skip-download" in args
    assert args[args.index("--framework") + 1 :][: len(FRAMEWORKS)] == list(FRAMEWORKS)
    assert args[args.index("--external-checks-dir") + 1] == str(tmp_path / "policies")
    assert ["-d", str(target_dir)] == args[-4:-2]
    assert ["-f", str(dockerfile)] == args[-2:]
    assert "--quiet" not in args  # passed checks prove our policies ran


def test_tf_json_is_found_anywhere_below(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "main.tf.json").write_text("{}")
    (nested / "main.tf").write_text("")
    assert unscannable([tmp_path]) == [nested / "main.tf.json"]
