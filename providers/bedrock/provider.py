"""Bedrock embeddings through boto3 ``bedrock-runtime`` ``invoke_model``: Nova, Titan Text v2, Cohere Embed v3/v4.

The model id picks the wire family (:mod:`._families`); the adapter itself is family-blind: it
turns a batch into the family's calls, sends each one (awaited through aiobotocore on the event
loop, or as a boto3 call in a worker thread: ``transport``, see :mod:`._aio`) and reads the
answers back in order. Nova and Titan take one input per call, so the core fans calls out under
bounded concurrency; Cohere takes 96 texts. boto3's own retries are set to ``sdk_max_attempts``
(1 by default) so they never multiply with the core's retry policy. A caller's ``boto3.Session``
or ``bedrock-runtime`` client can be passed as ``client=``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
)

from .._threads import ProviderThreads, in_thread
from .._translate import ErrorTable, translated
from ..base import EmbeddingProvider
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    InvalidOptionError,
    InvalidRequestError,
    MissingCredentialsError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
)
from ..inputs import Input
from ..types import BatchOutput, Capabilities, Intent, Usage
from . import _aio, _families, _wire
from .settings import BedrockSettings

__all__ = ["ERROR_CODES", "ERROR_TABLE", "BedrockNovaProvider", "BedrockProvider"]

ERROR_CODES: dict[str, type[ProviderError]] = {
    "ValidationException": InvalidRequestError,
    "ServiceQuotaExceededException": RateLimitError,
    "AccessDeniedException": AuthenticationError,
    "UnrecognizedClientException": AuthenticationError,
    "ExpiredTokenException": AuthenticationError,
    "IncompleteSignature": AuthenticationError,
    "ResourceNotFoundException": ModelNotFoundError,
    "ModelTimeoutException": ProviderTimeoutError,
    # 424: the model failed on THIS input; the same input fails again (botocore does not retry it either).
    "ModelErrorException": InvalidRequestError,
    "ThrottlingException": RateLimitError,
    "ModelNotReadyException": ServiceUnavailableError,
    "InternalServerException": ServiceUnavailableError,
    "InternalFailure": ServiceUnavailableError,
    "ServiceUnavailableException": ServiceUnavailableError,
}
"""botocore error codes → omnivec errors. Codes not listed fall back to the HTTP status."""

_CREDENTIALS = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the bedrock `profile` option "
    "(boto3's credential chain)"
)

ERROR_TABLE = ErrorTable(
    codes=ERROR_CODES,
    api_errors={ClientError: lambda exc: _wire.upstream(exc.response, str(exc))},
    exceptions={
        NoCredentialsError: (MissingCredentialsError, f"no AWS credentials found: {_CREDENTIALS}"),
        PartialCredentialsError: (MissingCredentialsError, f"incomplete AWS credentials ({{exc}}): {_CREDENTIALS}"),
        ProfileNotFound: (MissingCredentialsError, "{exc}: name a profile of ~/.aws/config (AWS_PROFILE or `profile`)"),
        SSOError: (MissingCredentialsError, "AWS SSO credentials unusable ({exc}): run `aws sso login`"),
        NoRegionError: (ConfigurationError, "no AWS region: set AWS_REGION or the bedrock `region` option"),
        ReadTimeoutError: (ProviderTimeoutError, "Bedrock call timed out: {exc}"),
        ConnectTimeoutError: (ProviderTimeoutError, "Bedrock call timed out: {exc}"),
        EndpointConnectionError: (ServiceUnavailableError, "cannot reach Bedrock: {exc}"),
        ConnectionClosedError: (ServiceUnavailableError, "cannot reach Bedrock: {exc}"),
        ParamValidationError: (InvalidRequestError, "{exc}"),
        BotoCoreError: (ServiceUnavailableError, "botocore failed: {exc}"),
    },
)
"""Everything boto3 raises, by class (most specific first) and, for service answers, by error code."""


class BedrockProvider(EmbeddingProvider[BedrockSettings]):
    """``bedrock:<model id>``: Nova, Titan Text Embeddings v2 or Cohere Embed v3/v4 (geo-prefixed ids and ARNs too)."""

    name = "bedrock"
    settings_class = BedrockSettings

    def __init__(
        self, model: str = "amazon.nova-2-multimodal-embeddings-v1:0", *, client: Any = None, **kwargs: Any
    ) -> None:
        """``client``: a ``boto3.Session`` (its credentials and region; omnivec makes the client, retries
        off) or a ``bedrock-runtime`` client used as it is. Neither is closed by :meth:`aclose`."""
        self._session, self._client = _caller_client(client)
        self._owned = self._client is not None
        super().__init__(model, **kwargs)
        self.family = _families.family_for(model, self.settings.model_family)
        _check_client_options(self.settings, session=self._session, client=self._client)
        if self.settings.normalize is None and not self.capabilities.normalized:
            # Cohere does not promise unit vectors; cosine users expect them (normalize=False keeps them raw).
            self.settings = self.settings.model_copy(update={"normalize": True})
        self._client_lock = threading.Lock()
        self._threads = ProviderThreads(lambda: self.concurrency_ceiling, name="omnivec-bedrock")
        self._aio = _aio.LoopClients(self._open_aio_client) if self._uses_aio() else None
        self._aio_session: Any = None

    def _uses_aio(self) -> bool:
        transport, caller = self.settings.transport, self._session is not None or self._client is not None
        if transport == "boto3" or (transport == "auto" and (caller or not _aio.available())):
            return False
        if caller:
            raise InvalidOptionError(
                "transport='aiobotocore' cannot use a boto3 client or Session passed as client=: "
                "drop client= (set profile/region instead) or use transport='boto3'"
            )
        if not _aio.available():
            raise ConfigurationError(
                "transport='aiobotocore' needs aiobotocore: pip install 'omnivec[bedrock]' (or transport='boto3')"
            )
        return True

    @property
    def capabilities(self) -> Capabilities:
        return _families.family_for(self.model, self.settings.model_family).capabilities(self.settings)

    def intent_mapping(self, intent: Intent) -> str:
        return self.family.intent_mapping(intent, self.settings)

    def vector_space_options(self) -> dict[str, Any]:
        url = self._client.meta.endpoint_url if self._owned else self.settings.endpoint_url
        return {
            **self.family.options(self.settings),
            # None = AWS itself; "emulator" or a URL otherwise, so their vectors never share a cache.
            "endpoint": _wire.endpoint(url, os.environ),
        }

    def rate_key(self) -> Hashable:
        # A Bedrock quota is per account (credentials), region and model: providers that share those
        # share one learned rate budget. The access key id is hashed, never kept in clear.
        s, env = self.settings, os.environ
        who = s.profile or env.get("AWS_PROFILE") or env.get("AWS_ACCESS_KEY_ID") or ""
        region = s.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        identity = hashlib.sha256(who.encode()).hexdigest()[:16]
        return (self.name, self.model, identity, region, self.vector_space_options().get("endpoint"))

    def _client_options(self, config_class: type[Config] = Config) -> dict[str, Any]:
        s = self.settings
        config = config_class(
            retries={"total_max_attempts": s.sdk_max_attempts, "mode": "standard"},
            connect_timeout=s.connect_timeout_s,
            read_timeout=s.read_timeout_s,
            max_pool_connections=max(10, self.concurrency_ceiling),
        )
        # AWS_REGION is what the docs and AWS's other SDKs use; botocore reads only AWS_DEFAULT_REGION.
        region = s.region or os.environ.get("AWS_REGION") or None
        return {"region_name": region, "endpoint_url": s.endpoint_url, "config": config}

    def _make_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                options = self._client_options()
                with translated(ERROR_TABLE, provider=self.name, model=self.model):  # profile and credentials load here
                    session = self._session or boto3.Session(
                        profile_name=self.settings.profile, region_name=options["region_name"]
                    )
                    self._client = session.client("bedrock-runtime", **options)
            return self._client

    def _open_aio_client(self) -> Any:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import AioSession

        with self._client_lock:  # one session for every loop's client: its loader keeps the parsed service model
            if self._aio_session is None:
                self._aio_session = AioSession(profile=self.settings.profile)
        return self._aio_session.create_client("bedrock-runtime", **self._client_options(AioConfig))

    def _invoke(self, body: bytes, count: int) -> tuple[_families.Parsed, int | None]:
        """One ``invoke_model`` call, its answer parsed: runs in a worker thread, so the event loop
        only hands the call over and takes the vectors back."""
        client = self._make_client()
        with translated(ERROR_TABLE, provider=self.name, model=self.model):
            response = client.invoke_model(
                modelId=self.model, body=body, contentType="application/json", accept="application/json"
            )
            raw = response["body"].read()
        return self._parsed(raw, response, count)

    async def _invoke_on_loop(self, body: bytes, count: int) -> tuple[_families.Parsed, int | None]:
        """The same call through aiobotocore, awaited on the event loop (``transport``)."""
        assert self._aio is not None
        with translated(ERROR_TABLE, provider=self.name, model=self.model):  # the client opens on first use
            client = await self._aio.get()
            response = await client.invoke_model(
                modelId=self.model, body=body, contentType="application/json", accept="application/json"
            )
            async with response["body"] as stream:
                raw = await stream.read()
        if len(raw) > _LOOP_PARSE_BYTES:  # a Cohere batch (~1.5 MB of JSON): parse it off the loop
            return await in_thread(self._threads, self._parsed, raw, response, count)
        return self._parsed(raw, response, count)

    def _parsed(self, raw: bytes, response: dict[str, Any], count: int) -> tuple[_families.Parsed, int | None]:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        tokens = headers.get("x-amzn-bedrock-input-token-count")
        return self.family.parse(raw, count), int(tokens) if tokens and tokens.isdigit() else None

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        vectors: list[list[float] | None] = [None] * len(batch)
        total: int | None = 0
        # One call for Nova, Titan and text-only Cohere batches; a Cohere v3 image goes alone.
        for call in self.family.calls(batch, intent, self.dimensions, self.settings):
            if len(call.body) > _wire.MAX_BODY_BYTES:
                raise InvalidInputError(
                    f"request body is {len(call.body):,} bytes; Bedrock takes at most 25,000,000: "
                    "shrink the item or pass an s3:// URI",
                    provider=self.name,
                    model=self.model,
                )
            if self._aio is not None:
                parsed, header_tokens = await self._invoke_on_loop(call.body, len(call.positions))
            else:
                parsed, header_tokens = await in_thread(self._threads, self._invoke, call.body, len(call.positions))
            for position, vector in zip(call.positions, parsed.vectors, strict=True):
                vectors[position] = vector
            tokens = parsed.tokens if parsed.tokens is not None else header_tokens
            total = None if total is None or tokens is None else total + tokens
        return BatchOutput(vectors=vectors, usage=Usage(input_tokens=total))  # type: ignore[arg-type]

    async def aclose(self) -> None:
        """End the worker threads (calls in flight finish first) and close the clients this provider
        made (aiobotocore's: this loop's); a caller's client stays open. The next call starts afresh."""
        if self._aio is not None:
            await self._aio.aclose()
        self._threads.close()
        if self._client is not None and not self._owned:
            self._client.close()
            self._client = None


_LOOP_PARSE_BYTES = 256 * 1024
"""Answers up to this size are parsed on the event loop (a Nova vector of 3,072 floats is ~60 kB);
larger ones, which would hold the loop for milliseconds, go to a worker thread."""

BedrockNovaProvider = BedrockProvider
"""The name before Titan and Cohere joined; kept for existing imports."""


def _caller_client(client: Any) -> tuple[Any, Any]:
    """``(session, client)`` from what the caller passed: a boto3 Session, a bedrock-runtime client, or None."""
    if client is None:
        return None, None
    if isinstance(client, boto3.Session):
        return client, None
    service = getattr(getattr(getattr(client, "meta", None), "service_model", None), "service_name", None)
    if service == "bedrock-runtime":
        return None, client
    raise InvalidOptionError(
        f"client must be a boto3.Session or a bedrock-runtime client, not {service or type(client).__name__}"
    )


def _check_client_options(settings: BedrockSettings, *, session: Any, client: Any) -> None:
    """Refuse options a caller's client already decided; warn when its own retries would stack with ours."""
    if session is not None and settings.profile is not None:
        raise InvalidOptionError("pass either a boto3.Session as client= or profile, not both")
    if client is None:
        return
    given = [name for name in ("profile", "region", "endpoint_url") if getattr(settings, name) is not None]
    if given:
        raise InvalidOptionError(f"client= is a ready bedrock-runtime client: drop {', '.join(given)} (it has its own)")
    retries = client.meta.config.retries or {}
    # botocore stores max_attempts as total_max_attempts; absent, AWS_MAX_ATTEMPTS or the mode's default (3) holds.
    if str(retries.get("total_max_attempts", os.environ.get("AWS_MAX_ATTEMPTS", "3"))) != "1":
        warnings.warn(
            f"the bedrock-runtime client passed as client= retries on its own (retries={retries or 'default'}); "
            "omnivec's retries multiply with them: create it with Config(retries={'total_max_attempts': 1})",
            stacklevel=3,
        )
