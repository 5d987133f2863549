"""Data workbench at scale: peak memory and time of `tuneforge data check` on large generated files and of
`tuneforge data add`, `data clean` and `data report` on 100,000 similar rows, against the targets of issue 12.

Targets: `data check` of a 1 GB file under 1 GB peak RSS; `data add` of 100,000 rows under 2 minutes. Each
command runs as the CLI in its own child process; peak RSS is that child's (getrusage of a wrapper that has only
this one child). The baseline is the in-memory reader the check used before streaming (the whole file read as
bytes, decoded and parsed into a list), measured on the 100 MB file in the same run.

    nice -n 10 python benchmarks/data_scale.py                 # 100 MB and 1 GB checks, 100,000-row add
    nice -n 10 python benchmarks/data_scale.py --sizes-mb 100  # skip the 1 GB file on a busy machine

Token lengths are not measured in the check (`--base none`): the memory target is about reading, and
tokenizing a gigabyte would time the tokenizer, not the workbench.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LABELS = ["software", "travel", "hardware", "telecom", "office_supplies", "marketing"]
VENDORS = ["Adobe", "Microsoft", "GitHub", "Slack", "Atlassian", "Zoom", "Dell", "Lenovo", "KLM", "Lufthansa",
           "Vodafone", "Staples", "Google Ads", "Hilton", "Uber", "Apple"]
WORDS = ("licence renewal team plan billed yearly monthly subscription seats support hotel night taxi airport "
         "laptop monitor dock keyboard mobile data bundle paper toner campaign spend conference ticket").split()
SYSTEM = "Categorise the invoice line. Answer with the category only."

_MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _row(rng: random.Random) -> str:
    vendor = rng.choice(VENDORS)
    text = f"{vendor} invoice {rng.randint(1, 999_999)}: " + " ".join(rng.choices(WORDS, k=rng.randint(6, 30)))
    return json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                                    {"role": "assistant", "content": LABELS[hash(vendor) % len(LABELS)]}]})


def write_rows(path: Path, *, size_bytes: int | None = None, rows: int | None = None, seed: int = 0) -> int:
    rng = random.Random(seed)
    written = n = 0
    with path.open("w", encoding="utf-8") as f:
        while (size_bytes is not None and written < size_bytes) or (rows is not None and n < rows):
            line = _row(rng) + "\n"
            f.write(line)
            written += len(line)
            n += 1
    return n


def measure(args: list[str], home: Path) -> tuple[int, float, float]:
    """(exit code, seconds, peak RSS in MB) of one command in a child process."""
    env = dict(os.environ, TUNEFORGE_HOME=str(home), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 1024


_BASELINE = """
import sys
from pathlib import Path
from tuneforge.data.formats import parse_data
from tuneforge.data.validate import check_loaded
path = Path(sys.argv[1])
report = check_loaded(parse_data(path.read_bytes(), str(path)), str(path))
sys.exit(report.exit_code)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mb", type=int, nargs="*", default=[100, 1000], help="files for `data check` (none: skip)")
    ap.add_argument("--add-rows", type=int, default=100_000, help="rows for `data add` (0: skip)")
    ap.add_argument("--commands", nargs="*", default=["clean", "report"],
                    help="also run these on the `data add` rows (clean, report)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the in-memory reader on the smallest file")
    args = ap.parse_args()
    tf = [sys.executable, "-m", "tuneforge"]
    with tempfile.TemporaryDirectory(prefix="tf-scale-") as tmp:
        tmp = Path(tmp)
        print(f"{'command':<44} {'rows':>10} {'size':>9} {'time':>8} {'peak RSS':>10}  target")
        for mb in args.sizes_mb:
            data = tmp / f"check-{mb}mb.jsonl"
            n = write_rows(data, size_bytes=mb * 1_000_000)
            size = data.stat().st_size / 1e6
            code, secs, rss = measure([*tf, "data", "check", str(data), "--base", "none"], tmp / "home")
            verdict = "met" if rss < 1024 else "MISSED"
            print(f"{'data check (streaming) ' + str(mb) + ' MB':<44} {n:>10,} {size:>7.0f}MB {secs:>7.1f}s "
                  f"{rss:>8.0f}MB  <1024 MB: {verdict} (exit {code})", flush=True)
            if mb == min(args.sizes_mb) and not args.no_baseline:
                code, b_secs, b_rss = measure([sys.executable, "-c", _BASELINE, str(data)], tmp / "home")
                print(f"{'  baseline: whole file in memory':<44} {n:>10,} {size:>7.0f}MB {b_secs:>7.1f}s "
                      f"{b_rss:>8.0f}MB  streaming uses {rss / b_rss:.2f}x the memory, {secs / b_secs:.2f}x "
                      f"the time", flush=True)
            data.unlink()
        if not args.add_rows:
            return
        data = tmp / "add.jsonl"
        n = write_rows(data, rows=args.add_rows, seed=1)
        size = data.stat().st_size / 1e6
        code, secs, rss = measure([*tf, "data", "add", str(data), "--name", "scale"], tmp / "home")
        verdict = "met" if secs < 120 and code == 0 else "MISSED"
        print(f"{'data add (checks + cleaning scan + store)':<44} {n:>10,} {size:>7.0f}MB {secs:>7.1f}s "
              f"{rss:>8.0f}MB  <120 s: {verdict} (exit {code})", flush=True)
        # The other commands that compare rows with each other, on the same rows: peak RSS is the figure.
        others = {"data clean": ["data", "clean", str(data), "--out", str(tmp / "clean.jsonl")],
                  "data report (--base none)": ["data", "report", str(data), "--base", "none",
                                                "--html", str(tmp / "report.html")]}
        for title, cmd in others.items():
            if title.split(" (")[0].split()[1] not in args.commands:
                continue
            code, secs, rss = measure([*tf, *cmd], tmp / "home")
            print(f"{title:<44} {n:>10,} {size:>7.0f}MB {secs:>7.1f}s {rss:>8.0f}MB  (exit {code})", flush=True)


if __name__ == "__main__":
    main()
