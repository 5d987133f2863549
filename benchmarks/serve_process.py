"""`tuneforge serve` as the serving benchmarks start it (serve_extraction.py, serve_throughput.py, ui_weight.py): a
subprocess on a free loopback port, its output in a log file, used once /health answers. A server that exits or
never answers stops the benchmark with the end of its log.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_server(serve_args: list[str], env: dict | None = None, timeout: float = 600) -> tuple[subprocess.Popen, str]:
    """Start `tuneforge serve SERVE_ARGS --port <free>`; (process, base url) once it answers. Stop it with stop()."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = Path(tempfile.mkdtemp(prefix="tuneforge-bench-")) / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tuneforge.cli.main", "serve", *serve_args, "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit(f"server did not answer in {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=60)
