"""Settings of the Bedrock provider: Nova, Titan Text Embeddings v2, Cohere Embed v3/v4 (no boto3 import here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..registry import ProviderInfo
from ..settings import ProviderSettings

__all__ = ["PROVIDER", "BedrockSettings", "IndexModality", "ModelFamily"]

IndexModality = Literal["mixed", "text", "image", "video", "document", "audio"]
ModelFamily = Literal["nova", "titan-v2", "cohere-v3", "cohere-v4"]


class BedrockSettings(ProviderSettings):
    """Options of ``bedrock:`` models. Region and credentials follow the AWS chain unless set.

    The wire family (request body) follows the model id; options that a family has no field for
    are not sent to it (each docstring names the family and wire field it reaches).
    """

    region: str | None = None
    """AWS region; None uses ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` / the profile (boto3's chain)."""
    profile: str | None = None
    """Named AWS profile; None uses the default credential chain."""
    endpoint_url: str | None = None
    """Override the runtime endpoint; None honours ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``."""
    model_family: ModelFamily | None = None
    """Which request body to speak when the model id names no family (an application inference profile
    or provisioned-throughput ARN); None reads it from the id. Ids of a known family need nothing."""
    index_modality: IndexModality = "mixed"
    """Nova only. What the index holds. Queries use ``GENERIC_RETRIEVAL`` for ``mixed``, else the
    modality-specific purpose (``TEXT_RETRIEVAL``, ``IMAGE_RETRIEVAL``...). Wire: ``embeddingPurpose``."""
    truncation_mode: Literal["START", "END", "NONE"] = "END"
    """Which end of over-long text is cut; NONE makes it an error instead. Wire: Nova ``text.truncationMode``,
    Cohere v3 ``truncate`` (START/END/NONE), Cohere v4 ``truncate`` (START → LEFT, END → RIGHT).
    Titan v2 has no such field: its over-long text is always an error."""
    detail_level: Literal["STANDARD_IMAGE", "DOCUMENT_IMAGE"] = "STANDARD_IMAGE"
    """Nova only. Wire: ``image.detailLevel``; DOCUMENT_IMAGE for pages, slides, screenshots."""
    video_embedding_mode: Literal["AUDIO_VIDEO_COMBINED"] = "AUDIO_VIDEO_COMBINED"
    """Nova only. Wire: ``video.embeddingMode``. SEPARATE returns two vectors per input and is not offered."""
    cohere_max_tokens: int | None = Field(None, ge=1)
    """Cohere v4 only. Wire: ``max_tokens``, the tokens kept per input before ``truncate`` applies;
    None leaves the model's 128k default."""
    transport: Literal["auto", "aiobotocore", "boto3"] = "auto"
    """How calls reach Bedrock. ``aiobotocore`` awaits them on the event loop (botocore on aiohttp: no
    worker thread per call, the least CPU per call); ``boto3`` runs each boto3 call in a worker thread.
    ``auto`` takes aiobotocore when it is installed (the ``bedrock`` extra installs it) and no boto3
    client or Session was passed as ``client=``, else boto3. Vectors are the same either way."""
    sdk_max_attempts: int = Field(1, ge=1)
    """botocore's own retry attempts. 1 (off) by default so they never stack with omnivec's retries."""
    connect_timeout_s: float = Field(10.0, gt=0, allow_inf_nan=False)
    read_timeout_s: float = Field(120.0, gt=0, allow_inf_nan=False)


PROVIDER = ProviderInfo(
    name="bedrock",
    target=".bedrock.provider:BedrockProvider",
    default_model="amazon.nova-2-multimodal-embeddings-v1:0",
    extra="bedrock",
    requires=("boto3",),
    models=(
        "amazon.nova-2-multimodal-embeddings-v1:0",
        "amazon.titan-embed-text-v2:0",
        "cohere.embed-english-v3",
        "cohere.embed-multilingual-v3",
        "cohere.embed-v4:0",
        "us./eu./apac./global. prefixed ids",
        "ARNs",
    ),
    settings=BedrockSettings,
    distributions=("boto3", "botocore", "aiobotocore"),
    contract_options={"dimensions": 256},
    emulated=True,
    credential_env=("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"),
)
