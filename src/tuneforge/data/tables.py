"""Spreadsheets in: CSV/TSV and Excel (.xlsx), with the user choosing which columns are the input and the answer.

`input_column` may name several columns separated by commas ("supplier,description"): each row's input is then
"column: value" lines, so a model sees which cell said what. Line numbers are the spreadsheet's row numbers
(header = 1), the number a user sees in Excel or an editor.
"""

from __future__ import annotations

import csv
import io

from tuneforge.data.messages import with_system
from tuneforge.data.problems import Problem

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm")


def split_columns(spec: str) -> list[str]:
    return [c.strip() for c in spec.split(",") if c.strip()]


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 42 as 42.0; the user typed 42
    return str(value)


def _duplicate_columns(file: str, header: list[str], wanted: list[str]) -> list[Problem]:
    """A header naming a column twice: an error when it is a column we read (which one did the user mean?)."""
    out = []
    for name in dict.fromkeys(h for h in header if h):
        positions = [i + 1 for i, h in enumerate(header) if h == name]
        if len(positions) > 1:
            used = name in wanted
            out.append(Problem(file, 1, name, f"column {name!r} appears {len(positions)} times in the header "
                               f"(columns {', '.join(map(str, positions))})", "rename the columns so each is unique",
                               "error" if used else "warning"))
    return out


def _rows_to_examples(file, header, rows, input_column, output_column, system_prompt, make_example):
    """rows: (line, {column: text}) pairs -> examples and problems."""
    inputs = split_columns(input_column)
    wanted = [*inputs, output_column]
    dupes = _duplicate_columns(file, header, wanted)
    if any(p.severity == "error" for p in dupes):
        return [], dupes
    missing = [c for c in wanted if c not in header]
    if missing or not inputs:
        return [], [
            Problem(file, 1, c, f"column {c!r} not in header {header}",
                    "name the columns with --input-column / --output-column")
            for c in (missing or [input_column])
        ]
    examples, problems = [], []
    for line, row in rows:
        if not any(v.strip() for v in row.values()):
            continue  # a blank spreadsheet row is layout, not data
        bad = [Problem(file, line, c, "is empty") for c in wanted if not row.get(c, "").strip()]
        if bad:
            problems.extend(bad)
            continue
        user = row[inputs[0]] if len(inputs) == 1 else "\n".join(f"{c}: {row[c]}" for c in inputs)
        msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": row[output_column]}]
        examples.append(make_example(with_system(msgs, system_prompt), line))
    return examples, dupes + problems


def csv_delimiter(path: str | None) -> str:
    """The field separator of a delimited file: a tab for .tsv, else a comma (also for stdin, '-')."""
    return "\t" if path and path != "-" and path.lower().endswith(".tsv") else ","


def load_csv(file: str, text: str, delimiter: str, input_column, output_column, system_prompt, make_example):
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header_row = next(reader, None)
        if header_row is None:
            return [], []
        header = [h.strip() for h in header_row]
        rows = []
        for cells in reader:
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                rows.append((reader.line_num, None))  # more cells than columns: a shifted row
                continue
            rows.append((reader.line_num, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)}))
    except csv.Error as e:
        return [], [Problem(file, reader.line_num, None, f"bad CSV: {e}", "check the quoting on this line")]
    problems = [Problem(file, line, None, f"more cells than the {len(header)} header columns",
                        "quote cells that contain the delimiter") for line, row in rows if row is None]
    examples, more = _rows_to_examples(file, header, [(n, r) for n, r in rows if r is not None],
                                       input_column, output_column, system_prompt, make_example)
    return examples, problems + more


def load_xlsx(file: str, raw: bytes, sheet, input_column, output_column, system_prompt, make_example):
    import zipfile

    try:
        from openpyxl import load_workbook
    except ImportError:  # pragma: no cover - openpyxl is a declared dependency
        return [], [Problem(file, None, None, "reading .xlsx needs openpyxl", "pip install openpyxl")]
    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError) as e:
        return [], [Problem(file, None, None, f"not a readable .xlsx workbook ({type(e).__name__})",
                            "save it from Excel as .xlsx, or export CSV")]
    except Exception as e:  # openpyxl raises many internal types on corrupt archives
        return [], [Problem(file, None, None, f"not a readable .xlsx workbook ({type(e).__name__}: {e})")]
    try:
        if sheet and sheet not in wb.sheetnames:
            return [], [Problem(file, None, "sheet", f"no sheet {sheet!r}; sheets: {wb.sheetnames}")]
        ws = wb[sheet] if sheet else wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        first = next(it, None)
        if first is None:
            return [], []
        header = [_cell_text(h).strip() for h in first]
        rows = [(i, {h: _cell_text(v) for h, v in zip(header, cells)}) for i, cells in enumerate(it, start=2)]
    except Exception as e:  # corrupt sheet XML surfaces only while iterating
        return [], [Problem(file, None, None, f"cannot read the sheet ({type(e).__name__}: {e})")]
    finally:
        wb.close()
    return _rows_to_examples(file, header, rows, input_column, output_column, system_prompt, make_example)


def table_header(raw: bytes, name: str, sheet: str | None = None) -> list[str] | None:
    """The column names of a CSV/TSV/Excel file (its first row), for a person to choose the input and answer
    columns from; None for other formats or a file whose first row cannot be read."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in TABLE_SUFFIXES:
        return None
    if suffix in (".xlsx", ".xlsm"):
        try:
            from openpyxl import load_workbook

            wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
            try:
                ws = wb[sheet] if sheet and sheet in wb.sheetnames else wb.worksheets[0]
                first = next(ws.iter_rows(values_only=True), None)
            finally:
                wb.close()
        except Exception:  # a damaged workbook: the loader reports it, naming the file
            return None
        return [_cell_text(h).strip() for h in first or ()]
    text = raw[: 1 << 16].decode("utf-8-sig", errors="replace")  # the header is in the first lines
    try:
        first = next(csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(suffix)), None)
    except csv.Error:
        return None
    return [h.strip() for h in first or ()]
