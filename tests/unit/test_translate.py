"""The one SDK-error translation helper (providers/_translate.py): table lookup, floor, one line, endpoint identity."""

from __future__ import annotations

import pytest

from omnivec.providers import errors
from omnivec.providers._retry import RATE_LIMIT_WAIT_S  # the policy's guess, applied at translation
from omnivec.providers._translate import (
    ErrorTable,
    Upstream,
    endpoint_identity,
    one_line,
    translated,
)


class SdkError(Exception):
    pass


class SdkCredentials(SdkError):
    pass


class SdkAnswer(Exception):
    def __init__(self, code: str | None, status: int | None, hint: float | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.answer = Upstream(code=code, status=status, message=f"the service said\n  {code}", retry_after=hint)


TABLE = ErrorTable(
    codes={"Throttled": errors.RateLimitError, "Broken": errors.InvalidRequestError},
    api_errors={SdkAnswer: lambda exc: exc.answer},
    exceptions={
        SdkError: (errors.ServiceUnavailableError, "sdk failed: {exc}"),
        SdkCredentials: (errors.MissingCredentialsError, "no credentials ({exc}): set KEY"),
    },
)


def raised(exc: BaseException) -> errors.EmbeddingError:
    with pytest.raises(errors.EmbeddingError) as info, translated(TABLE, provider="p", model="m"):
        raise exc
    assert info.value.__cause__ is exc and (info.value.provider, info.value.model) == ("p", "m")
    return info.value


def test_the_most_specific_class_wins_over_its_base() -> None:
    # Dict order puts the base first: the lookup follows the exception's MRO, not the table's order.
    assert type(raised(SdkCredentials("partial"))) is errors.MissingCredentialsError
    assert type(raised(SdkError("x"))) is errors.ServiceUnavailableError


def test_codes_first_then_http_status() -> None:
    assert type(raised(SdkAnswer("Broken", 500))) is errors.InvalidRequestError
    error = raised(SdkAnswer("Unknown", 503))
    assert type(error) is errors.ServiceUnavailableError and error.status_code == 503 and error.code == "Unknown"


def test_a_rate_limit_without_a_hint_waits_about_a_second_spread_out() -> None:
    waits = []
    for answer in [SdkAnswer("Throttled", 429) for _ in range(50)] + [SdkAnswer(None, 429)]:
        error = raised(answer)
        assert isinstance(error, errors.RateLimitError) and error.retry_after is not None
        waits.append(error.retry_after)
    low, high = RATE_LIMIT_WAIT_S
    assert low >= 0.5 and high <= 2.0 and all(low <= w <= high for w in waits)
    assert max(waits) - min(waits) > 0.3  # a burst of throttled calls does not come back in step


def test_the_providers_hint_is_kept_even_when_short() -> None:
    error = raised(SdkAnswer("Throttled", 429, hint=0.25))
    assert isinstance(error, errors.RateLimitError) and error.retry_after == 0.25


def test_messages_are_one_line() -> None:
    assert "\n" not in str(raised(SdkAnswer("Broken", 400)))
    long = raised(SdkError("line one\n" + "x " * 2000))
    assert "\n" not in str(long) and len(long.message) <= 520 and long.message.startswith("sdk failed: line one x")
    assert one_line("  a\n\tb  ") == "a b"


def test_unknown_exceptions_and_our_own_pass_through() -> None:
    with pytest.raises(KeyError), translated(TABLE, provider="p", model="m"):
        raise KeyError("not an SDK error")
    original = errors.InvalidInputError("ours")
    with pytest.raises(errors.InvalidInputError) as info, translated(TABLE, provider="p", model="m"):
        raise original
    assert info.value is original


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        (None, None),
        ("", None),
        ("https://bedrock-runtime.us-east-1.amazonaws.com", None),
        ("https://generativelanguage.googleapis.com/", None),
        ("http://127.0.0.1:8765", "emulator"),
        ("http://127.0.0.1:8765/", "emulator"),
        ("http://127.0.0.1:9999", "http://127.0.0.1:9999"),
        ("HTTPS://User:Secret@Proxy.Example.com:8443/gemini/?key=abc", "https://proxy.example.com:8443/gemini"),
    ],
)
def test_endpoint_identity(url: str | None, identity: str | None) -> None:
    assert (
        endpoint_identity(url, emulator_url="http://127.0.0.1:8765", vendor_hosts=(".amazonaws.com", ".googleapis.com"))
        == identity
    )


def test_the_emulator_is_recognised_on_any_port_and_secrets_never_kept() -> None:
    for port in (1234, 40000, 65000):
        url = f"http://127.0.0.1:{port}"
        assert endpoint_identity(url, emulator_url=url, vendor_hosts=()) == "emulator"
    assert endpoint_identity("http://127.0.0.1:1234", emulator_url=None, vendor_hosts=()) == "http://127.0.0.1:1234"
    kept = endpoint_identity("https://u:pw@h.example/p?token=t", emulator_url=None, vendor_hosts=())
    assert kept == "https://h.example/p" and "pw" not in kept and "token" not in kept
