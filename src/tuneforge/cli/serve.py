"""`tuneforge serve`: an OpenAI-compatible API for registered variants and base models."""

from __future__ import annotations

from tuneforge.cli.options import add_config_command
from tuneforge.config import ServeConfig

EPILOG = """\b
Examples:
  tuneforge keys create my-app                     # prints the key once
  tuneforge serve --model invoice-coder@production --host 0.0.0.0 --port 8000
  tuneforge serve --model runs/invoice --model smollm2-135m --local-only
\b
Then, from any OpenAI client:
  OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=KEY).chat.completions.create(
      model="invoice-coder", messages=[{"role": "user", "content": "Adobe licence"}])
"""


def _run(cfg: ServeConfig):
    import sys

    from tuneforge.serve.run import serve

    # A server's output usually goes to a file or a pipe (`> server.log`, systemd, docker), where Python writes it
    # in blocks: the addresses it serves on and what it does later would show up minutes late, or at exit. Each
    # line goes out as it is printed.
    sys.stdout.reconfigure(line_buffering=True)
    serve(cfg)


def register(app):
    add_config_command(
        app, ServeConfig, "serve", _run,
        help="Serve variants and base models over an OpenAI-compatible HTTP API (LoRA variants share one base).",
        epilog=EPILOG,
    )
