"""Settings of the Bedrock Nova provider (no boto3 import here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..registry import ProviderInfo
from ..settings import ProviderSettings

__all__ = ["PROVIDER", "BedrockSettings", "IndexModality"]

IndexModality = Literal["mixed", "text", "image", "video", "document", "audio"]


class BedrockSettings(ProviderSettings):
    """Options of ``bedrock:`` models. Region and credentials follow the AWS chain unless set."""

    region: str | None = None
    """AWS region; None uses ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` / the profile (boto3's chain)."""
    profile: str | None = None
    """Named AWS profile; None uses the default credential chain."""
    endpoint_url: str | None = None
    """Override the runtime endpoint; None honours ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``."""
    index_modality: IndexModality = "mixed"
    """What the index holds. Queries use ``GENERIC_RETRIEVAL`` for ``mixed``, else the
    modality-specific purpose (``TEXT_RETRIEVAL``, ``IMAGE_RETRIEVAL``...). Wire: ``embeddingPurpose``."""
    truncation_mode: Literal["START", "END", "NONE"] = "END"
    """Wire: ``text.truncationMode``. NONE makes over-long text an error instead of cutting it."""
    detail_level: Literal["STANDARD_IMAGE", "DOCUMENT_IMAGE"] = "STANDARD_IMAGE"
    """Wire: ``image.detailLevel``; DOCUMENT_IMAGE for pages, slides, screenshots."""
    video_embedding_mode: Literal["AUDIO_VIDEO_COMBINED"] = "AUDIO_VIDEO_COMBINED"
    """Wire: ``video.embeddingMode``. SEPARATE returns two vectors per input and is not offered."""
    sdk_max_attempts: int = Field(1, ge=1)
    """botocore's own retry attempts. 1 (off) by default so they never stack with omnivec's retries."""
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(120.0, gt=0)


PROVIDER = ProviderInfo(
    name="bedrock",
    target=".bedrock.provider:BedrockNovaProvider",
    default_model="amazon.nova-2-multimodal-embeddings-v1:0",
    extra="bedrock",
    requires=("boto3",),
    models=("amazon.nova-2-multimodal-embeddings-v1:0", "us./eu./apac./global. prefixed ids", "ARNs"),
    settings=BedrockSettings,
    distributions=("boto3", "botocore"),
    contract_options={"dimensions": 256},
    emulated=True,
)
