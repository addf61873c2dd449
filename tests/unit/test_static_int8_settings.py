"""backend='openvino-int8' (static int8, calibrated on the user's texts): its sample is checked before any
model loads, and the sample's digest and the precision are part of the vector space."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers import get_provider
from omnivec.providers.errors import InvalidOptionError

pytest.importorskip("sentence_transformers", reason='needs pip install "omnivec[local]"')
pytest.importorskip("openvino", reason='needs pip install "omnivec[local-fast]"')
pytest.importorskip("nncf", reason='needs pip install "omnivec[local-fast]"')


def _sample(tmp_path: Path, count: int, name: str = "sample.txt", word: str = "text") -> str:
    path = tmp_path / name
    path.write_text("\n".join(f"{word} {i} of my own corpus" for i in range(count)) + "\n\n", encoding="utf-8")
    return str(path)


def test_a_calibration_sample_under_50_texts_is_refused_naming_the_file(tmp_path: Path) -> None:
    small = _sample(tmp_path, 49)
    with pytest.raises(InvalidOptionError, match=r"calibration_file '.*sample.txt' holds 49 text\(s\).* at least 50"):
        get_provider("local", backend="openvino-int8", calibration_file=small)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "openvino-int8"}, "needs calibration_file"),
        ({"backend": "openvino-int8", "calibration_file": "/nonexistent/sample.txt"}, "cannot be read"),
        ({"backend": "openvino", "calibration_file": "x.txt"}, "for backend='openvino-int8' only"),
    ],
)
def test_bad_static_int8_settings_are_one_line_before_loading(options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message) as caught:
        get_provider("local", **options)
    assert "\n" not in str(caught.value)


def test_the_sample_and_precision_are_in_the_fingerprint(tmp_path: Path) -> None:
    one = get_provider("local", backend="openvino-int8", calibration_file=_sample(tmp_path, 50))
    same = get_provider("local", backend="openvino-int8", calibration_file=_sample(tmp_path, 50, "copy.txt"))
    other = get_provider("local", backend="openvino-int8", calibration_file=_sample(tmp_path, 50, "b.txt", "word"))
    options = one.fingerprint("document").options
    assert options["backend"] == "openvino-int8" and options["precision"].startswith("int8-static")
    assert options["calibration"].endswith("(50 texts)")
    assert one.fingerprint("document") == same.fingerprint("document")  # the texts count, not the file name
    assert one.fingerprint("document") != other.fingerprint("document")
    assert one.fingerprint("document") != get_provider("local").fingerprint("document")
