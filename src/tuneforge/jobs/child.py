"""Start a job's training process so that it dies with the server: `python -m tuneforge.jobs.child train ...`.

It asks Linux for SIGKILL when its parent ends (prctl PR_SET_PDEATHSIG, kept across exec), then becomes
`python -m tuneforge train ...`. A server killed with -9 thus leaves no training running on its own, and on
restart the worker resumes the job from its last checkpoint. Elsewhere it simply runs the command.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        expected = os.environ.get("TUNEFORGE_PARENT_PID")
        if expected and os.getppid() != int(expected):
            sys.exit(f"the server (pid {expected}) ended before the job started")
    os.execv(sys.executable, [sys.executable, "-m", "tuneforge", *sys.argv[1:]])


if __name__ == "__main__":
    main()
