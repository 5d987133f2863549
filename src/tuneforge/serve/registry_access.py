"""Who may see and change a registered name, for the registry, evaluation and monitor routes.

A name made by a fine-tuning job belongs to the job's key owner (registry/owners.py): other owners get 404, as
for files and jobs. A name registered from the command line has no owner: every key may read it, only admin keys
(and the local user of a server without keys) may promote, roll back, evaluate or retrain it.
"""

from __future__ import annotations

from fastapi import Request

from tuneforge.serve.errors import ApiError
from tuneforge.serve.principal import Principal, principal_for
from tuneforge.serve.security import check_api_key


def caller(request: Request) -> Principal:
    """401 without a valid key; else who is calling. Resolved here, not from the jobs API's middleware, so these
    routes are scoped the same with or without the fine-tuning API mounted."""
    keys = request.app.state.keys
    authorization = request.headers.get("authorization")
    check_api_key(authorization, keys)
    return principal_for(authorization, keys)


def name_of(ref: str) -> str:
    """`invoice:3`, `invoice@production`, `invoice` -> `invoice`."""
    return ref.split("@")[0].split(":")[0]


def visible_names(who: Principal) -> set[str] | None:
    """The names `who` may see, or None for all (admins)."""
    from tuneforge.registry.owners import all_owners
    from tuneforge.registry.store import Registry

    if who.admin:
        return None
    owned = all_owners()
    registry = Registry()
    try:
        names = {v.name for v in registry.list()}
    finally:
        registry.close()
    return {n for n in names if who.can_see(owned.get(n))}


def check_name(who: Principal, ref: str, write: bool = False) -> str:
    """The name of `ref` when `who` may see it (and change it, with `write`); else 404 (403 for a public name
    that only an admin may change)."""
    from tuneforge.registry.owners import owner_of
    from tuneforge.registry.store import Registry

    name = name_of(ref)
    registry = Registry()
    try:
        exists = bool(registry.list(name=name))
    finally:
        registry.close()
    owner = owner_of(name) if exists else None
    if not exists or not who.can_see(owner):
        raise ApiError(404, f"The model `{ref}` does not exist in the registry or you do not have access to it.",
                       param="model", code="model_not_found")
    if write and owner is None and not who.admin:
        raise ApiError(403, f"`{name}` was registered by the operator; only an admin key may change it.",
                       param="model", code="insufficient_permissions")
    return name


def may_see_variant(who: Principal, variant: str | None) -> bool:
    """Whether `who` may see traffic and feedback of a served `variant` (a registry version, a job's model, a
    base): only a name with an owner is hidden from other owners."""
    from tuneforge.registry.owners import owner_of

    return not variant or who.can_see(owner_of(name_of(variant)))


def registry_error(err) -> ApiError:
    """A RegistryError (bad reference, refused stage change) as the API's 400."""
    return ApiError(400, str(getattr(err, "message", None) or err), param="model")
