"""Amazon Nova Multimodal Embeddings on Bedrock through boto3 ``bedrock-runtime`` ``invoke_model``.

Nova takes one input per call, so the core fans calls out under bounded concurrency; each boto3
call runs in a worker thread. boto3's own retries are set to ``sdk_max_attempts`` (1 by default) so
they never multiply with the core's retry policy.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    ReadTimeoutError,
)

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
    error_for_status,
)
from ..inputs import Input
from ..types import BatchOutput, Capabilities, Intent, Usage
from . import _wire
from .settings import BedrockSettings

__all__ = ["BedrockNovaProvider", "ERROR_CODES"]

ERROR_CODES: dict[str, type[ProviderError]] = {
    "ValidationException": InvalidRequestError,
    "ServiceQuotaExceededException": RateLimitError,
    "AccessDeniedException": AuthenticationError,
    "UnrecognizedClientException": AuthenticationError,
    "ExpiredTokenException": AuthenticationError,
    "IncompleteSignature": AuthenticationError,
    "ResourceNotFoundException": ModelNotFoundError,
    "ModelTimeoutException": ProviderTimeoutError,
    "ModelErrorException": ServiceUnavailableError,
    "ThrottlingException": RateLimitError,
    "ModelNotReadyException": ServiceUnavailableError,
    "InternalServerException": ServiceUnavailableError,
    "InternalFailure": ServiceUnavailableError,
    "ServiceUnavailableException": ServiceUnavailableError,
}
"""botocore error codes → omnivec errors. Codes not listed fall back to the HTTP status."""


def _retry_after(exc: ClientError) -> float | None:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    if "x-amz-retry-after" in headers:  # milliseconds, as botocore's standard retryer reads it
        return float(headers["x-amz-retry-after"]) / 1000
    if "retry-after" in headers and headers["retry-after"].isdigit():
        return float(headers["retry-after"])
    return None


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
        self._pool = ThreadPoolExecutor(max_workers=self.settings.max_concurrency or self.capabilities.max_concurrency,
                                        thread_name_prefix="omnivec-bedrock")

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
        return {"truncation_mode": s.truncation_mode, "detail_level": s.detail_level,
                "video_embedding_mode": s.video_embedding_mode}

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
                session = boto3.Session(profile_name=s.profile, region_name=s.region)
                with self._translated():
                    self._client = session.client("bedrock-runtime", endpoint_url=s.endpoint_url, config=config)
            return self._client

    @contextmanager
    def _translated(self) -> Iterator[None]:
        where = {"provider": self.name, "model": self.model}
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            cls = ERROR_CODES.get(code) or error_for_status(status)
            extra = {"retry_after": _retry_after(exc)} if cls is RateLimitError else {}
            raise cls(error.get("Message") or str(exc), status_code=status, code=code, **where, **extra) from exc
        except NoCredentialsError as exc:
            raise MissingCredentialsError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the "
                "bedrock `profile` option (boto3's credential chain)", **where) from exc
        except NoRegionError as exc:
            raise ConfigurationError("no AWS region: set AWS_REGION or the bedrock `region` option", **where) from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ProviderTimeoutError(f"Bedrock call timed out: {exc}", **where) from exc
        except (EndpointConnectionError, ConnectionClosedError) as exc:
            raise ServiceUnavailableError(f"cannot reach Bedrock: {exc}", **where) from exc
        except ParamValidationError as exc:
            raise InvalidRequestError(str(exc), **where) from exc
        except BotoCoreError as exc:
            raise ServiceUnavailableError(f"botocore failed: {exc}", **where) from exc

    def _invoke(self, body: bytes) -> tuple[list[float], int | None]:
        client = self._make_client()
        with self._translated():
            response = client.invoke_model(modelId=self.model, body=body, contentType="application/json",
                                           accept="application/json")
            raw = response["body"].read()
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        tokens = headers.get("x-amzn-bedrock-input-token-count")
        return _wire.parse_response(raw), int(tokens) if tokens and tokens.isdigit() else None

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        (item,) = batch
        body = _wire.request_body(item, intent=intent, dimensions=self.dimensions, settings=self.settings)
        if len(body) > _wire.MAX_BODY_BYTES:
            raise InvalidInputError(f"request body is {len(body):,} bytes; Bedrock takes at most 25,000,000: "
                                    "shrink the item or pass an s3:// URI", provider=self.name, model=self.model)
        vector, tokens = await asyncio.get_running_loop().run_in_executor(self._pool, self._invoke, body)
        return BatchOutput(vectors=[vector], usage=Usage(input_tokens=tokens))

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)
        if self._client is not None:
            self._client.close()
            self._client = None
