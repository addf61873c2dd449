"""Every SDK error code / class we know of reaches a class of the omnivec tree."""

from __future__ import annotations

import pytest

from omnivec.providers import errors


def test_every_bedrock_code_of_the_service_model_is_mapped() -> None:
    import botocore.session

    from omnivec.providers.bedrock import ERROR_CODES

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    invoke_errors = {shape.name for shape in model.operation_model("InvokeModel").error_shapes}
    assert invoke_errors <= set(ERROR_CODES), invoke_errors - set(ERROR_CODES)
    assert all(issubclass(cls, errors.ProviderError) for cls in ERROR_CODES.values())


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        ("ThrottlingException", True),
        ("ModelNotReadyException", True),
        ("ServiceUnavailableException", True),
        ("InternalServerException", True),
        ("ModelTimeoutException", True),
        ("ValidationException", False),
        ("AccessDeniedException", False),
        ("ResourceNotFoundException", False),
        ("ModelErrorException", False),
    ],  # 424: the model failed on this input; it fails again
)
def test_bedrock_retryability(code: str, retryable: bool) -> None:
    from omnivec.providers.bedrock import ERROR_CODES

    assert ERROR_CODES[code].retryable is retryable


def test_every_genai_error_class_reaches_the_tree() -> None:
    from google.genai import errors as genai_errors

    from omnivec.providers.gemini import GOOGLE_STATUS

    api_errors = [
        c for c in vars(genai_errors).values() if isinstance(c, type) and issubclass(c, genai_errors.APIError)
    ]
    assert {c.__name__ for c in api_errors} >= {"APIError", "ClientError", "ServerError"}
    for status in (
        "INVALID_ARGUMENT",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "NOT_FOUND",
        "RESOURCE_EXHAUSTED",
        "UNAVAILABLE",
        "INTERNAL",
        "DEADLINE_EXCEEDED",
    ):
        assert issubclass(GOOGLE_STATUS[status], errors.ProviderError), status


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.InvalidRequestError),
        (401, errors.AuthenticationError),
        (403, errors.AuthenticationError),
        (404, errors.ModelNotFoundError),
        (408, errors.ProviderTimeoutError),
        (409, errors.InvalidRequestError),
        (429, errors.RateLimitError),
        (500, errors.ServiceUnavailableError),
        (502, errors.ServiceUnavailableError),
        (503, errors.ServiceUnavailableError),
        (504, errors.ProviderTimeoutError),
        (None, errors.ProviderError),
    ],
)
def test_status_table(status: int | None, cls: type) -> None:
    assert errors.error_for_status(status) is cls


def test_only_transient_errors_are_retryable() -> None:
    retryable = {
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.EmbeddingError) and c.retryable
    }
    assert retryable == {errors.RateLimitError, errors.ProviderTimeoutError, errors.ServiceUnavailableError}


def _classes(module: object, base: type[BaseException]) -> list[type[BaseException]]:
    return [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, base)]


def test_every_botocore_exception_class_is_translated() -> None:
    import botocore.exceptions

    from omnivec.providers.bedrock.provider import ERROR_TABLE

    classes = [c for c in _classes(botocore.exceptions, Exception) if not issubclass(c, Warning)]
    internal = {"UndefinedModelAttributeError", "MissingServiceIdError"}  # service-model loading, not calls
    classes = [c for c in classes if c.__name__ not in internal]
    assert len(classes) > 90  # the whole module, not a hand-picked list
    missing = [c.__name__ for c in classes if not ERROR_TABLE.covers(c)]
    assert not missing, missing


@pytest.mark.parametrize(
    "name",
    [
        "NoCredentialsError",
        "PartialCredentialsError",
        "ProfileNotFound",
        "UnauthorizedSSOTokenError",
        "SSOTokenLoadError",
    ],
)
def test_aws_credential_problems_are_missing_credentials_never_retried(name: str) -> None:
    import botocore.exceptions

    from omnivec.providers.bedrock.provider import ERROR_TABLE

    cls = getattr(botocore.exceptions, name)
    exc = cls.__new__(cls)  # botocore formats messages from kwargs; the class is what is mapped
    Exception.__init__(exc, f"{name} details")
    error = ERROR_TABLE.translate(exc, provider="bedrock", model="m")
    assert isinstance(error, errors.MissingCredentialsError) and not error.retryable, name


def test_every_google_genai_transport_and_auth_error_is_translated() -> None:
    import aiohttp
    import google.auth.exceptions
    import httpx2
    from google.genai import errors as genai_errors

    from omnivec.providers.gemini.provider import ERROR_TABLE

    # Function-calling errors of google-genai never come from embed_content; its HTTP and parse errors do.
    classes = [
        *_classes(genai_errors, genai_errors.APIError),
        genai_errors.UnknownApiResponseError,
        *_classes(httpx2, httpx2.TransportError),
        *_classes(aiohttp, aiohttp.ClientError),
        TimeoutError,
        google.auth.exceptions.DefaultCredentialsError,
        google.auth.exceptions.RefreshError,
        google.auth.exceptions.TransportError,
    ]
    missing = [c.__name__ for c in classes if not ERROR_TABLE.covers(c)]
    assert not missing, missing
    adc = ERROR_TABLE.translate(
        google.auth.exceptions.DefaultCredentialsError("x\n" * 240), provider="gemini", model="m"
    )
    assert isinstance(adc, errors.MissingCredentialsError) and "\n" not in str(adc) and "gcloud auth" in str(adc)
    timeout = ERROR_TABLE.translate(aiohttp.ServerTimeoutError("t"), provider="gemini", model="m")
    assert isinstance(timeout, errors.ProviderTimeoutError)
