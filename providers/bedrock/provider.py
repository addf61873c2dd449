"""Amazon Nova Multimodal Embeddings on Bedrock through boto3 ``bedrock-runtime`` ``invoke_model``.

Nova takes one input per call, so the core fans calls out under bounded concurrency; each boto3
call runs in a worker thread. boto3's own retries are set to ``sdk_max_attempts`` (1 by default) so
they never multiply with the core's retry policy.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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

from .._translate import ErrorTable, translated
from ..base import EmbeddingProvider
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
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
from . import _wire
from .settings import BedrockSettings

__all__ = ["ERROR_CODES", "ERROR_TABLE", "BedrockNovaProvider"]

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


class BedrockNovaProvider(EmbeddingProvider[BedrockSettings]):
    """``bedrock:amazon.nova-2-multimodal-embeddings-v1:0`` (geo-prefixed ids and ARNs too)."""

    name = "bedrock"
    settings_class = BedrockSettings

    def __init__(self, model: str = "amazon.nova-2-multimodal-embeddings-v1:0", **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._client: Any = None
        self._client_lock = threading.Lock()
        # Our own pool, sized to the concurrency limit: asyncio's default pool has min(32, cpus + 4)
        # threads, which would silently cap concurrent boto3 calls at 6 on a 2-core machine.
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency or self.capabilities.max_concurrency,
            thread_name_prefix="omnivec-bedrock",
        )

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            modalities=frozenset({"text", "image", "audio", "video"}),
            max_batch_size=1,  # InvokeModel embeds exactly one item
            max_concurrency=8,  # sized for default Bedrock on-demand quotas; raise with max_concurrency
            default_dimensions=3072,
            dimensions=_wire.DIMENSIONS,
            normalized=True,
            max_input_chars=50_000,
            # 25 MB body after base64 (4/3 growth) and the JSON around it.
            max_input_bytes=(_wire.MAX_BODY_BYTES - 1024) * 3 // 4,
            mime_types=frozenset({*_wire.IMAGE_FORMATS, *_wire.AUDIO_FORMATS, *_wire.VIDEO_FORMATS}),
            uri_schemes=frozenset({"s3"}),
            max_seconds={"audio": 30, "video": 30},  # sync InvokeModel limit
        )

    def intent_mapping(self, intent: Intent) -> str:
        return f"embeddingPurpose={_wire.embedding_purpose(intent, self.settings)}"

    def vector_space_options(self) -> dict[str, Any]:
        s = self.settings
        return {
            "truncation_mode": s.truncation_mode,
            "detail_level": s.detail_level,
            "video_embedding_mode": s.video_embedding_mode,
            # None = AWS itself; "emulator" or a URL otherwise, so their vectors never share a cache.
            "endpoint": _wire.endpoint(s.endpoint_url, os.environ),
        }

    def _make_client(self) -> Any:
        s = self.settings
        with self._client_lock:
            if self._client is None:
                config = Config(
                    retries={"total_max_attempts": s.sdk_max_attempts, "mode": "standard"},
                    connect_timeout=s.connect_timeout_s,
                    read_timeout=s.read_timeout_s,
                    max_pool_connections=max(10, s.max_concurrency or self.capabilities.max_concurrency),
                )
                with translated(ERROR_TABLE, provider=self.name, model=self.model):  # profile and credentials load here
                    session = boto3.Session(profile_name=s.profile, region_name=s.region)
                    self._client = session.client("bedrock-runtime", endpoint_url=s.endpoint_url, config=config)
            return self._client

    def _invoke(self, body: bytes) -> tuple[list[float], int | None]:
        client = self._make_client()
        with translated(ERROR_TABLE, provider=self.name, model=self.model):
            response = client.invoke_model(
                modelId=self.model, body=body, contentType="application/json", accept="application/json"
            )
            raw = response["body"].read()
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        tokens = headers.get("x-amzn-bedrock-input-token-count")
        return _wire.parse_response(raw), int(tokens) if tokens and tokens.isdigit() else None

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        (item,) = batch
        body = _wire.request_body(item, intent=intent, dimensions=self.dimensions, settings=self.settings)
        if len(body) > _wire.MAX_BODY_BYTES:
            raise InvalidInputError(
                f"request body is {len(body):,} bytes; Bedrock takes at most 25,000,000: "
                "shrink the item or pass an s3:// URI",
                provider=self.name,
                model=self.model,
            )
        vector, tokens = await asyncio.get_running_loop().run_in_executor(self._pool, self._invoke, body)
        return BatchOutput(vectors=[vector], usage=Usage(input_tokens=tokens))

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)
        if self._client is not None:
            self._client.close()
            self._client = None
