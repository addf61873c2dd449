from __future__ import annotations

import json
import subprocess
import sys

import omnivec.providers as api


def test_all_is_sorted_and_complete() -> None:
    assert api.__all__ == sorted(api.__all__, key=lambda n: (not n.isupper(), n))
    for name in api.__all__:
        assert hasattr(api, name), name


def test_importing_the_package_loads_no_sdk_and_no_torch() -> None:
    code = (
        "import sys, json, omnivec.providers, omnivec.providers.config, omnivec.providers.testing;"
        "print(json.dumps(sorted(m for m in sys.modules)))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    for heavy in ("torch", "boto3", "botocore", "google.genai", "sentence_transformers", "transformers", "PIL"):
        assert heavy not in loaded, f"importing omnivec.providers imported {heavy}"


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    assert api.__version__ == version("omnivec")
