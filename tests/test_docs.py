"""The Python snippets in the README and docs run as written (writing-a-provider's is a sketch of a
third-party client and is only compiled)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [
    (path, i, code)
    for path in DOCS
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S))
]


@pytest.mark.parametrize(("path", "index", "code"), BLOCKS, ids=[f"{p.relative_to(ROOT)}#{i}" for p, i, _ in BLOCKS])
def test_doc_snippet(path: Path, index: int, code: str, isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    compiled = compile(textwrap.dedent(code), f"{path.name}#{index}", "exec")  # list items indent their blocks
    if path.name == "writing-a-provider.md":
        return
    exec(compiled, {"__name__": "__main__"})


def test_user_docs_never_point_at_the_development_folders() -> None:
    # ../shared exists on the developers' machines only; a user of the package has bundled data
    # or a documented download instead.
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in DOCS
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "../shared" in line
    ]
    assert found == []


def test_readme_lists_every_extra_and_what_all_leaves_out() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    section = (ROOT / "README.md").read_text().split("## Extras", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `([a-z-]+)` — (.*)$", section, flags=re.M)
    assert sorted(name for name, _ in listed) == sorted(extras)
    said = dict(listed)["all"]
    left_out = set(re.findall(r"`([a-z-]+)`", said.split("except", 1)[1])) if "except" in said else set()
    in_all = set(re.findall(r"[\[,]([a-z-]+)", extras["all"][0]))
    assert in_all == set(extras) - {"all", "dev"} - left_out
