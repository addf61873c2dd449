"""``omnivec embed``: what it writes, how it reads files, and errors printed verbatim on one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from omnivec.providers import EmbeddingError
from omnivec.providers.cli import app
from omnivec.providers.console import print_error, print_warning
from omnivec.providers.testing import FakeProvider


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["embed", *args])


def test_jsonl_and_npy_outputs(isolated_cwd: Path) -> None:
    out = run("-m", "fake", "--out", "v.jsonl", "alpha", "beta")
    assert out.exit_code == 0, out.stderr
    rows = [json.loads(line) for line in (isolated_cwd / "v.jsonl").read_text().splitlines()]
    assert [r["input"] for r in rows] == ["alpha", "beta"] and len(rows[0]["embedding"]) == 64
    assert run("-m", "fake", "--out", "v.npy", "alpha", "beta").exit_code == 0
    expected = FakeProvider().embed_one("alpha", "document")
    np.testing.assert_allclose(np.load(isolated_cwd / "v.npy")[0], expected)


def test_dimensions_are_passed_not_dropped(isolated_cwd: Path) -> None:
    out = run("-m", "fake", "--dimensions", "16", "alpha")
    assert out.exit_code == 0 and len(json.loads(out.stdout)["embedding"]) == 16
    zero = run("-m", "fake", "--dimensions", "0", "alpha")
    assert zero.exit_code == 2 and zero.stdout == ""  # never 64 dims when 0 was asked for


def test_empty_model_never_falls_back_to_the_configured_one(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIVEC_MODEL", "fake")
    assert run("alpha").exit_code == 0
    out = run("-m", "", "alpha")
    assert out.exit_code == 2 and "--model is empty" in out.stderr and out.stdout == ""


def test_file_is_utf8_one_input_per_line(isolated_cwd: Path) -> None:
    # A UTF-8 BOM is dropped, CRLF endings too; U+2028 inside a line does not split it; blank lines skip.
    (isolated_cwd / "in.txt").write_bytes("\ufefffirst\r\n\n  \nsecond\u2028half\n\u200b\nthird".encode())
    out = run("-m", "fake", "--file", "in.txt")
    assert out.exit_code == 0, out.stderr
    assert [json.loads(line)["input"] for line in out.stdout.splitlines()] == ["first", "second\u2028half", "third"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("hello\n".encode("utf-16"), "UTF-16"),
        (b"caf\xe9\n", "not UTF-8 text (byte 0xe9 at offset 3)"),
    ],
)
def test_file_that_is_not_utf8_is_named(isolated_cwd: Path, content: bytes, says: str) -> None:
    (isolated_cwd / "in.txt").write_bytes(content)
    out = run("-m", "fake", "--file", "in.txt")
    assert out.exit_code == 2 and says in out.stderr and "in.txt" in out.stderr


def test_provider_prefix_survives_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    # Rich would read "[gemini:gemini-embedding-2]" as markup and drop it.
    print_error(EmbeddingError("model not found", provider="gemini", model="gemini-embedding-2", status_code=404))
    assert capsys.readouterr().err == "error: [gemini:gemini-embedding-2] model not found (status=404)\n"


def test_closing_tags_and_long_messages_print_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    message = "cannot read [/tmp/x] or [bold]y[/bold] " + "z" * 300  # stderr is not a terminal here
    print_error(message)
    print_warning("[/x]")
    err = capsys.readouterr().err
    assert err == f"error: {message}\nwarning: [/x]\n"


def test_provider_error_from_the_wire_is_one_line_with_its_prefix(omnivec_emulator, isolated_cwd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = run("-m", "gemini:gemini-embedding-999", "hello")
    assert out.exit_code == 2
    assert out.stderr.startswith("error: [gemini:gemini-embedding-999] ") and out.stderr.count("\n") == 1


def test_usage_errors_are_one_line(isolated_cwd: Path) -> None:
    out = run("--dimensions", "many", "alpha")
    assert out.exit_code == 2 and out.stderr.count("\n") == 1 and out.stderr.startswith("error: ")
    assert "--dimensions" in out.stderr and "╭" not in out.stderr


def test_bare_command_still_shows_help() -> None:
    out = CliRunner().invoke(app, [])
    assert "Usage" in out.output and "embed" in out.output
