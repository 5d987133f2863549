"""`tuneforge keys ...`: API keys for the server, stored hashed."""

from __future__ import annotations

import typer

app = typer.Typer(help="API keys for `tuneforge serve`.", no_args_is_help=True)


@app.command("create", epilog="Example:  tuneforge keys create billing-app")
def create(name: str = typer.Argument(..., help="Who the key is for: its owner (shown in `keys list`)."),
           admin: bool = typer.Option(False, "--admin", help="May see every owner's files, jobs and models.")):
    """Create a key. It is printed once; only its hash is stored. Keys of one name share their fine-tuning files,
    jobs and models; other names get 404 for them."""
    from tuneforge.serve.keys import KeyStore

    key, record = KeyStore().create(name, admin=admin)
    typer.echo(key)
    typer.echo(f"created key {record.id} ({record.prefix}...) for {name}; store it now, it is not shown again", err=True)


@app.command("list", epilog="Example:  tuneforge keys list")
def list_keys():
    """List keys (id, name, prefix, created, revoked) without their secrets."""
    from tuneforge.serve.keys import KeyStore

    for k in KeyStore().list():
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        typer.echo(f"{k.id}\t{k.name}\t{k.prefix}...\t{k.created_at}\t{state}" + ("\tadmin" if k.admin else ""))


@app.command("revoke", epilog="Example:  tuneforge keys revoke billing-app")
def revoke(ref: str = typer.Argument(..., help="Key id, name or prefix.")):
    """Revoke a key; requests with it get 401 from then on."""
    from tuneforge.serve.keys import KeyStore

    from tuneforge.errors import UserError

    try:
        k = KeyStore().revoke(ref)
    except LookupError as err:  # the key store is the server's; its "no such key" is the user's to fix
        raise UserError(err.args[0]) from None
    typer.echo(f"revoked key {k.id} ({k.prefix}...) for {k.name}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")
