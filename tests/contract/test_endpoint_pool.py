"""Endpoint pools through real boto3 against three emulated Bedrock regions: one vector space, each
member with its own budget, a member in an outage taken out and probed back in, nothing lost or twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from omnivec.providers import get_provider
from omnivec.providers.config import load_config, load_provider
from omnivec.providers.emulator import Emulator, emulator_environment
from omnivec.providers.emulator.server import Faults
from omnivec.providers.errors import InvalidOptionError, InvalidRequestError
from omnivec.providers.pool import EndpointPool
from omnivec.providers.testing import allow_remote_calls
from omnivec.providers.testing.perf import emulator_text_vector, fresh_rate_state

NOVA_ID = "amazon.nova-2-multimodal-embeddings-v1:0"
NOVA = f"bedrock:{NOVA_ID}"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Emulator]]:
    """Three emulators standing for three regions, reached by URL (dummy credentials from the environment)."""
    fresh_rate_state()
    emulators = [Emulator(Faults(latency_ms=2)).start() for _ in REGIONS]
    for name, value in emulator_environment(emulators[0].url).items():
        if value is None or name == "EMULATED_BY_OMNIVEC" or name.startswith("AWS_ENDPOINT"):
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with allow_remote_calls():
        yield emulators
    for emu in emulators:
        emu.stop()


def _nova(emu: Emulator, region: str, **options: object) -> object:
    return get_provider(NOVA, dimensions=256, region=region, endpoint_url=emu.url, **options)


def _pool(emulators: list[Emulator], **options: object) -> EndpointPool:
    members = [_nova(emu, region) for emu, region in zip(emulators, REGIONS, strict=True)]
    return EndpointPool(members, **options)  # type: ignore[arg-type]


def test_an_outage_of_one_region_loses_and_repeats_nothing(regions: list[Emulator]) -> None:
    down = regions[1]
    down.faults.unavailable = True  # us-west-2 answers 503 from the start until a third of the work is done
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] >= 300:
            down.faults.unavailable = False

    pool = _pool(regions, out_s=0.05, max_out_s=0.1)
    texts = [f"item {i} about topic {i % 13}" for i in range(900)]
    result = pool.embed_sync(texts, intent="document", progress=progress)
    expected = np.array([emulator_text_vector(t, 256) for t in texts])
    np.testing.assert_allclose(result.vectors, expected, atol=1e-5)  # every row, in order
    assert sum(emu.stats.items for emu in regions) == len(texts)  # each served exactly once
    assert down.stats.by_status.get(503, 0) >= 2 and down.stats.ok > 0  # out, then probed back in
    states = {row["member"].split("@")[1]: row for row in pool.snapshot()}
    assert states["us-west-2"]["outages"] >= 1 and states["us-west-2"]["state"] == "in"
    assert result.fingerprint == _nova(regions[0], "us-east-1").fingerprint("document").space()  # type: ignore[attr-defined]


def test_work_goes_where_grant_is_free(regions: list[Emulator]) -> None:
    regions[0].faults.rate_limit_rps, regions[0].faults.burst = 20, 2  # us-east-1 grants little
    tight = Emulator(Faults(latency_ms=2, rate_limit_rps=20, burst=2)).start()
    try:
        members = [_nova(tight, "us-east-1"), _nova(regions[1], "us-west-2"), _nova(regions[2], "eu-west-1")]
        pool = EndpointPool(members)  # type: ignore[arg-type]
        result = pool.embed_sync([f"text {i}" for i in range(600)], intent="document")
        assert not result.failures
        served = [tight.stats.items, regions[1].stats.items, regions[2].stats.items]
        assert sum(served) == 600 and served[0] < served[1] / 2 and served[0] < served[2] / 2
    finally:
        tight.stop()


def test_a_region_without_the_model_is_named_at_the_first_call(regions: list[Emulator]) -> None:
    regions[2].faults.missing_models = (NOVA_ID,)
    pool = _pool(regions)
    with pytest.raises(InvalidRequestError, match=r"pool member 2:bedrock:.*@eu-west-1: .*model identifier"):
        pool.embed_sync([f"text {i}" for i in range(30)], intent="document")


def test_bad_pools_are_refused_at_build(regions: list[Emulator]) -> None:
    one = _nova(regions[0], "us-east-1")
    with pytest.raises(InvalidOptionError, match="at least 2 members, got 1"):
        EndpointPool([one])  # type: ignore[list-item]
    with pytest.raises(InvalidOptionError, match="pool members 0 and 1 are the same endpoint"):
        EndpointPool([one, _nova(regions[0], "us-east-1")])  # type: ignore[list-item]
    other_dims = get_provider(NOVA, dimensions=1024, region="us-west-2", endpoint_url=regions[1].url)
    with pytest.raises(InvalidOptionError, match=r"different vector spaces \(dimensions 256 vs 1024\)"):
        EndpointPool([one, other_dims])  # type: ignore[list-item]
    titan = get_provider("bedrock:amazon.titan-embed-text-v2:0", dimensions=256, endpoint_url=regions[1].url)
    with pytest.raises(InvalidOptionError, match=r"different vector spaces \(model "):
        EndpointPool([one, titan])  # type: ignore[list-item]


def test_a_pool_section_builds_one_member_per_region(regions: list[Emulator], tmp_path: Path) -> None:
    config = tmp_path / "omnivec.toml"
    config.write_text(
        f'model = "{NOVA}"\n[bedrock]\ndimensions = 256\nendpoint_url = "{regions[0].url}"\n'
        f'[pool]\nregions = ["us-east-1", "us-west-2"]\n'
    )
    pool = load_provider(load_config(config))
    assert isinstance(pool, EndpointPool)
    assert [m.label.split("@")[1] for m in pool.members] == ["us-east-1", "us-west-2"]
    assert pool.embed_sync(["one", "two", "three"], intent="query").vectors.shape == (3, 256)
    config.write_text(f'model = "{NOVA}"\n[pool]\nregions = ["us-east-1"]\nmembers = [{{region = "eu-west-1"}}]\n')
    with pytest.raises(InvalidOptionError, match="either members or regions"):
        load_config(config)


def test_omnivec_providers_lists_the_pool_members(
    regions: list[Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from omnivec.providers.cli import app

    monkeypatch.chdir(tmp_path)
    regions_toml = '["us-east-1", "us-west-2", "eu-west-1"]'
    (tmp_path / "omnivec.toml").write_text(f'model = "{NOVA}"\n[pool]\nregions = {regions_toml}\n')
    out = CliRunner().invoke(app, ["providers"], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "endpoint pool" in out.output and all(region in out.output for region in REGIONS)
    (tmp_path / "omnivec.toml").write_text(f'model = "{NOVA}"\n[pool]\nregions = ["us-east-1"]\n')
    out = CliRunner().invoke(app, ["providers"])
    assert out.exit_code == 2 and "needs at least 2 members" in out.output and "Traceback" not in out.output
