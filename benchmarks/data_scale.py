"""Data workbench at scale: peak memory and time of `tuneforge data check` on large generated files and of
`tuneforge data add`, `data clean` and `data report` on 100,000 similar rows, against the targets of issue 12;
and (`--scale-rows`, `--big-mb`) whether the memory of `data clean`, `data report` and `data add` stays flat as the
rows grow, up to a 1 GB file.

Targets: `data check` of a 1 GB file under 1 GB peak RSS; `data add` of 100,000 rows under 2 minutes; `data
clean`, `data report` and `data add` of a 1 GB file under 1 GB peak RSS. Each command runs as the CLI in its own
child process; peak RSS is that child's (getrusage of a wrapper that has only this one child). The baseline is the
in-memory reader the check used before streaming (the whole file read as bytes, decoded and parsed into a list),
measured on the 100 MB file in the same run.

    nice -n 10 python benchmarks/data_scale.py                 # 100 MB and 1 GB checks, 100,000-row add
    nice -n 10 python benchmarks/data_scale.py --sizes-mb 100  # skip the 1 GB file on a busy machine
    nice -n 10 python benchmarks/data_scale.py --sizes-mb --add-rows 0 --scale-rows 10000 100000 300000
    nice -n 10 python benchmarks/data_scale.py --sizes-mb --add-rows 0 --big-mb 1000

`--scale-rows`: clean, report and add on the same kind of rows at growing counts; the last line is the growth of
peak RSS per added row (what is kept per row). `--big-mb`: the three commands on one file of that size whose rows
carry a long system prompt (category definitions, the same on every row, as instruction data often has): a
gigabyte of rows at a row count the shared 2-core machine can clean in minutes (the near-duplicate search
compares the inputs, which stay invoice lines; MinHash over a gigabyte of distinct text is CPU time, not memory).
All files are written to a temporary folder and deleted.

Token lengths are not measured in the check (`--base none`): the memory target is about reading, and
tokenizing a gigabyte would time the tokenizer, not the workbench.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
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


# The long system prompt of the `--big-mb` rows: what each category covers (about 3 kB).
LONG_SYSTEM = SYSTEM + " Categories:\n" + "\n".join(
    f"- {label}: " + " ".join(f"{w} ({label} {k})" for k, w in enumerate(WORDS)) + "." for label in LABELS) + \
    "\nWhen a line fits two categories, choose the one of the main item; answer in lower case."


def _row(rng: random.Random, system: str = SYSTEM) -> str:
    vendor = rng.choice(VENDORS)
    text = f"{vendor} invoice {rng.randint(1, 999_999)}: " + " ".join(rng.choices(WORDS, k=rng.randint(6, 30)))
    # The label follows the vendor (a fixed table, the same in every process).
    return json.dumps({"messages": [{"role": "system", "content": system}, {"role": "user", "content": text},
                                    {"role": "assistant", "content": LABELS[VENDORS.index(vendor) % len(LABELS)]}]})


def write_rows(path: Path, *, size_bytes: int | None = None, rows: int | None = None, seed: int = 0,
               system: str = SYSTEM) -> int:
    rng = random.Random(seed)
    written = n = 0
    with path.open("w", encoding="utf-8") as f:
        while (size_bytes is not None and written < size_bytes) or (rows is not None and n < rows):
            line = _row(rng, system) + "\n"
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


THREE = ("clean", "report", "add")


def three_commands(data: Path, tmp: Path, tf: list[str], only=THREE):
    """(title, exit code, seconds, peak RSS in MB) of `data clean`, `data report` and `data add` on one file, each
    from a fresh home folder; their outputs are deleted after each (a gigabyte each)."""
    runs = {"clean": ("data clean", ["data", "clean", str(data), "--out", str(tmp / "out.clean.jsonl")]),
            "report": ("data report (--base none)", ["data", "report", str(data), "--base", "none",
                                                     "--html", str(tmp / "out.report.html")]),
            "add": ("data add", ["data", "add", str(data), "--name", "scale"])}
    for name in only:
        title, cmd = runs[name]
        home = tmp / "home-three"
        code, secs, rss = measure([*tf, *cmd], home)
        shutil.rmtree(home, ignore_errors=True)
        for out in tmp.glob("out.*"):
            out.unlink()
        yield title, code, secs, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mb", type=int, nargs="*", default=[100, 1000], help="files for `data check` (none: skip)")
    ap.add_argument("--add-rows", type=int, default=100_000, help="rows for `data add` (0: skip)")
    ap.add_argument("--commands", nargs="*", default=["clean", "report"],
                    help="also run these on the `data add` rows (clean, report)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the in-memory reader on the smallest file")
    ap.add_argument("--scale-rows", type=int, nargs="*", default=[],
                    help="clean, report and add on this many rows each (growing): is memory flat in the rows?")
    ap.add_argument("--big-mb", type=int, default=0, help="clean, report and add on one file of this size (MB)")
    ap.add_argument("--three", nargs="*", default=list(THREE), choices=THREE,
                    help="which of clean, report, add --scale-rows and --big-mb run")
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
        if args.scale_rows or args.big_mb:
            _flat_in_rows(args, tmp, tf)
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


def _flat_in_rows(args, tmp: Path, tf: list[str]) -> None:
    peaks: dict[str, list[tuple[int, float]]] = {}
    for n in args.scale_rows:
        data = tmp / f"scale-{n}.jsonl"
        write_rows(data, rows=n, seed=2)
        size = data.stat().st_size / 1e6
        for title, code, secs, rss in three_commands(data, tmp, tf, args.three):
            peaks.setdefault(title, []).append((n, rss))
            print(f"{title:<44} {n:>10,} {size:>7.0f}MB {secs:>7.1f}s {rss:>8.0f}MB  (exit {code})", flush=True)
        data.unlink()
    for title, points in peaks.items():
        for (n0, r0), (n1, r1) in zip(points, points[1:]):
            print(f"  {title}: peak RSS grows {(r1 - r0) * 2**20 / (n1 - n0):.0f} bytes per added row "
                  f"({n0:,} -> {n1:,} rows: {r0:.0f} -> {r1:.0f} MB)", flush=True)
    if args.big_mb:
        data = tmp / f"big-{args.big_mb}mb.jsonl"
        n = write_rows(data, size_bytes=args.big_mb * 1_000_000, seed=3, system=LONG_SYSTEM)
        size = data.stat().st_size / 1e6
        for title, code, secs, rss in three_commands(data, tmp, tf, args.three):
            verdict = "met" if rss < 1024 and code == 0 else "MISSED"
            print(f"{title + ' (long rows)':<44} {n:>10,} {size:>7.0f}MB {secs:>7.1f}s {rss:>8.0f}MB  "
                  f"<1024 MB: {verdict} (exit {code})", flush=True)
        data.unlink()


if __name__ == "__main__":
    main()
