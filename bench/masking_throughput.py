"""Masking throughput: privrec's TF-op masking vs a pure-Python `re` baseline, same rows.

Prints a table (median rows/s over repeats and the ratio) and writes the numbers as JSON with
--json PATH. The baseline scrubs the same patterns with Python's `re` (it cannot run inside a
serving graph, which is why privrec uses TF ops); it says what the TF ops cost or save.

    .venv/bin/python bench/masking_throughput.py --size small --repeats 5 --json out/bench.json
"""
import argparse
import json
import re
import statistics
import time

import privrec  # noqa: F401  (runtime switches)
import tensorflow as tf

from components.masking import pseudonymizer, text_scrubber
from components.masking.ptransform import make_mask_fn, RAW_TEXT_COLUMNS
from privrec.data import generator


def python_baseline(rows):
    patterns = [(re.compile(text_scrubber.EMAIL_PATTERN), text_scrubber.EMAIL)] + [
        (re.compile(p), text_scrubber.PHONE) for p in text_scrubber.PHONE_PATTERNS]
    out = []
    for row in rows:
        query = row["query"]
        for part in [row["name"]] + row["name"].split():
            if len(part) >= 2:
                query = re.sub(r"(?i)\b" + re.escape(part) + r"\b", text_scrubber.NAME, query)
        for pattern, placeholder in patterns:
            query = pattern.sub(placeholder, query)
        out.append(query)
    return out


def tf_masking(mask_fn, rows, batch_size=1024):
    out = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        inputs = {c: tf.constant([r[c] for r in batch]) for c in RAW_TEXT_COLUMNS}
        out.extend(mask_fn(inputs)["query"].numpy())
    return out


def median_rate(fn, n_rows, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n_rows / statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="small", choices=sorted(generator.SIZES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    rows = generator.generate(generator.SIZES[args.size])["interactions"]
    mask_fn = make_mask_fn(pseudonymizer.load_key(allow_dev_key=True))
    tf_masking(mask_fn, rows[:2048])  # trace once outside the timing
    results = {
        "rows": len(rows),
        "tf_ops_rows_per_s": median_rate(lambda: tf_masking(mask_fn, rows), len(rows), args.repeats),
        "python_re_rows_per_s": median_rate(lambda: python_baseline(rows), len(rows), args.repeats),
    }
    results["ratio_tf_over_python"] = results["tf_ops_rows_per_s"] / results["python_re_rows_per_s"]
    print(f"{'implementation':<28}{'median rows/s':>16}")
    print(f"{'privrec TF ops (batched)':<28}{results['tf_ops_rows_per_s']:>16,.0f}")
    print(f"{'baseline: Python re':<28}{results['python_re_rows_per_s']:>16,.0f}")
    print(f"ratio TF / baseline: {results['ratio_tf_over_python']:.2f}x over {len(rows)} rows, "
          f"median of {args.repeats}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
