"""``omnivec emulate`` on bad input: an impossible or taken port, out-of-range faults, each one line."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from omnivec.providers.cli import app, attach_commands


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
