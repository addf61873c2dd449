"""Problems a new-user trial found: each a one-line error or the documented behaviour."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from omnivec.providers import get_provider
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.emulator import Emulator


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    attach_commands()
    return CliRunner()


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_emulate_refuses_an_impossible_port_in_one_line(cli: CliRunner, port: str) -> None:
    result = cli.invoke(app, ["emulate", "--port", port])
    assert result.exit_code == 2
    assert "--port" in result.output and "Traceback" not in result.output


def test_emulate_on_a_taken_port_is_one_line(cli: CliRunner) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli.invoke(app, ["emulate", "--port", str(taken.getsockname()[1])])
    assert result.exit_code == 2
    assert "cannot listen" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--error-rate", "2"], "--error-rate 2"),
        (["--error-rate", "-0.5"], "--error-rate -0.5"),
        (["--hang-s", "-1"], "--hang-s -1"),
        (["--latency-ms", "-5"], "--latency-ms -5"),
        (["--drop-rate", "nan"], "--drop-rate nan"),
        (["--hang-rate", "inf"], "--hang-rate inf"),
        (["--batch-delay-s", "-0.1"], "--batch-delay-s"),
        (["--rate-limit", "0"], "leave it out for no limit"),
        (["--rate-limit", "-3"], "--rate-limit -3"),
        (["--error-rate", "0.6", "--drop-rate", "0.6"], "add up to 1.2"),
    ],
)
def test_emulate_refuses_out_of_range_faults_in_one_line(
    cli: CliRunner, args: list[str], names: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnivec.providers.emulator import cli as emulate_cli

    def interrupt(_: float) -> None:  # an accepted value serves until Ctrl-C: press it at once
        raise KeyboardInterrupt

    monkeypatch.setattr(emulate_cli.time, "sleep", interrupt)
    result = cli.invoke(app, ["emulate", "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert names in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bedrock_honours_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as emulator:
        for name in ("AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "EMULATOR")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "EMULATOR")
        provider = get_provider("bedrock", endpoint_url=emulator.url, dimensions=256)
        assert provider._make_client().meta.region_name == "eu-west-1"  # type: ignore[attr-defined]


def test_a_failed_or_empty_first_index_leaves_no_collection(cli: CliRunner, isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    (isolated_cwd / "bad.jsonl").write_text('{"_id": "1", "text": "a"}\nnot json\n')
    (isolated_cwd / "empty.jsonl").write_text("")
    (isolated_cwd / "good.jsonl").write_text('{"_id": "1", "text": "cats purr"}\n')
    assert cli.invoke(app, ["index", "bad.jsonl", "--collection", "z", "--model", "fake"]).exit_code == 2
    empty = cli.invoke(app, ["index", "empty.jsonl", "--collection", "e", "--model", "fake"])
    assert empty.exit_code == 2 and "holds no items" in empty.output
    assert cli.invoke(app, ["collections"]).output.strip() == ""
    # The model chosen after the failure is accepted: the failed run locked nothing in.
    assert cli.invoke(app, ["index", "good.jsonl", "--collection", "z", "--model", "fake:other"]).exit_code == 0
    missing = cli.invoke(app, ["drop", "z", "--version", "99"])
    assert missing.exit_code == 2 and "no version 99" in missing.output
