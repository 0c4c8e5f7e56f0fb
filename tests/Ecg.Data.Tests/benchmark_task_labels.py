#!/usr/bin/env python3
"""Reference label sets of the PTB-XL benchmark's six tasks, for LabelTaskTests.fs.

Reimplements, with the standard library only (csv, ast), what helme/ecg_ptbxl_benchmarking's
code/utils/utils.py does: compute_label_aggregations (the record's label set per task, from every key
of its scp_codes dict whatever the likelihood) and select_data with min_samples=0 as in its experiments
(labels of more than min_samples records kept, 'diagnostic' not filtered; records left without a label
dropped; classes sorted as MultiLabelBinarizer sorts them).

Usage: python3 benchmark_task_labels.py [PTB-XL folder]   (default ../../../shared/ptbxl-sample)

Prints per task: the number of records kept, the classes, the records per class and the SHA-256 of the
canonical listing "ecg_id:label,label\n" over the kept records in ecg_id order (labels sorted).
"""
import ast
import csv
import hashlib
import os
import sys

TASKS = ["all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm"]


def read_statements(folder):
    with open(os.path.join(folder, "scp_statements.csv"), newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    col = {name: i for i, name in enumerate(header)}
    statements = {}
    for row in rows[1:]:
        flag = lambda name: row[col[name]].strip() in ("1", "1.0")
        blank_is_none = lambda name: row[col[name]].strip() or None   # pandas reads a blank cell as NaN
        statements[row[0].strip()] = {
            "diagnostic": flag("diagnostic"), "form": flag("form"), "rhythm": flag("rhythm"),
            "diagnostic_class": blank_is_none("diagnostic_class"),
            "diagnostic_subclass": blank_is_none("diagnostic_subclass"),
        }
    return statements


def read_records(folder):
    with open(os.path.join(folder, "ptbxl_database.csv"), newline="") as f:
        reader = csv.DictReader(f)
        return [(int(float(r["ecg_id"])), ast.literal_eval(r["scp_codes"])) for r in reader]


def label_set(task, codes, statements):
    """compute_label_aggregations for one record."""
    keys = codes.keys()
    if task == "all":
        return set(keys)
    if task in ("diagnostic", "subdiagnostic", "superdiagnostic"):
        diag = [k for k in keys if k in statements and statements[k]["diagnostic"]]
        if task == "diagnostic":
            return set(diag)
        column = "diagnostic_subclass" if task == "subdiagnostic" else "diagnostic_class"
        return {statements[k][column] for k in diag if statements[k][column] is not None}
    return {k for k in keys if k in statements and statements[k][task]}


def select(task, sets, min_samples=0):
    """select_data: the kept records' label sets and the sorted classes."""
    counts = {}
    for _, s in sets:
        for label in s:
            counts[label] = counts.get(label, 0) + 1
    keep = set(counts) if task == "diagnostic" else {l for l, n in counts.items() if n > min_samples}
    kept = [(ecg_id, sorted(s & keep)) for ecg_id, s in sets if s & keep]
    classes = sorted({l for _, s in kept for l in s})
    return kept, classes


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "ptbxl-sample")
    statements = read_statements(folder)
    records = sorted(read_records(folder))
    for task in TASKS:
        kept, classes = select(task, [(i, label_set(task, c, statements)) for i, c in records])
        per_class = {c: 0 for c in classes}
        for _, labels in kept:
            for l in labels:
                per_class[l] += 1
        listing = "".join("%d:%s\n" % (i, ",".join(labels)) for i, labels in kept)
        print("%s: %d records, %d classes" % (task, len(kept), len(classes)))
        print("  classes: " + " ".join(classes))
        print("  counts:  " + " ".join(str(per_class[c]) for c in classes))
        print("  sha256:  " + hashlib.sha256(listing.encode("utf-8")).hexdigest())


if __name__ == "__main__":
    main()
