"""What the later pages let a user pick from, read through the API: registered names and versions, served models."""

from __future__ import annotations

from tuneforge.ui.api_client import ok


async def registered(api) -> list[dict]:
    """GET /v1/registry/models: the names this key may see, each with its versions (oldest first)."""
    return ok(await api.get("/v1/registry/models"))["data"]


def newest_ref(models: list[dict]) -> str | None:
    """The version a page shows when none is chosen: the newest version of the most recently registered name."""
    versions = [v for m in models for v in m["versions"]]
    return max(versions, key=lambda v: (v["registered_at"], v["version"]))["ref"] if versions else None


def default_name(models: list[dict]) -> str | None:
    ref = newest_ref(models)
    return ref.split(":")[0] if ref else None


async def served_models(api) -> list[str]:
    """GET /v1/models: the model ids this key can send requests to."""
    return [m["id"] for m in ok(await api.get("/v1/models"))["data"]]
