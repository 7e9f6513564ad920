"""Masking benchmark: privrec's TF-op scrubber vs Microsoft Presidio, on the same labelled texts.

Prints a table (targets, not timed tests) and writes every number as JSON with --json PATH:

* rows/s: median over --repeats full passes over the same --rows generated texts. privrec runs
  `text_scrubber.scrub_text` as one tf.function over batches of --batch-size strings (the time
  includes building the input tensors and reading the outputs back); Presidio runs
  AnalyzerEngine.analyze + AnonymizerEngine.anonymize text by text.
* recall per type: share of planted spans (bench/labelled_pii.py) whose text no longer appears
  in the output while the type's placeholder does ("[PHONE]" etc.; Presidio's entity types are
  mapped onto the same placeholders). A type the scrubber has no detector for scores 0.
* precision: of the replacements made (placeholders in the output, aligned back onto the input),
  the share that overlaps a planted span. Replacements of hard negatives or product words count
  against it. Two placeholders separated by a short separator can be aligned ambiguously; the
  ambiguity stays between them, so overlap with the planted spans is rarely misjudged.
* non-PII chars masked: share of the characters outside planted spans (product words, labels,
  hard negatives) that ended up inside a replacement: over-long replacements show here, which
  precision (overlap) does not see. "masked by any placeholder" (printed below the table) is the
  share of planted spans whose text is gone, whatever placeholder replaced it.
* titles changed: share of real product titles (MovieLens u.item titles, if --movielens exists,
  plus the generated catalog's titles) that the scrubber changes at all.

Presidio (dev-only dependency, see requirements.in) runs with its generic pattern recognizers
(email, phone via the phonenumbers library, credit card, IP, URL, IBAN, crypto wallet, MAC, UUID)
and presidio's NoOpNlpEngine: no spaCy model is loaded or downloaded, so it has no PERSON /
LOCATION detection (those come from a NER model) and no Chinese ID number recognizer; those
columns show what it gets, honestly 0. Its phone recognizer is given the CN region (domestic
Chinese numbers); '+CC' numbers are found in any region. tldextract uses its bundled suffix list
(no network).

    .venv/bin/python bench/masking.py --rows 100000 --repeats 3 --json out/masking.json
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import privrec  # noqa: E402,F401  (runtime switches, before TensorFlow)
import tensorflow as tf  # noqa: E402

from bench import labelled_pii  # noqa: E402
from privrec import text_scrubber  # noqa: E402
from privrec.data import generator  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MOVIELENS = os.path.join(ROOT, "..", "shared", "data", "movielens-100k")
TYPES = labelled_pii.TYPES
STRUCTURED = labelled_pii.STRUCTURED_TYPES
TARGET_RECALL, TARGET_TITLES_CHANGED, TARGET_SPEEDUP = 0.99, 0.01, 50.0

PLACEHOLDER = {"email": text_scrubber.EMAIL, "phone": text_scrubber.PHONE,
               "id_number": text_scrubber.ID_NUMBER, "bank_card": text_scrubber.BANK_CARD,
               "ip": text_scrubber.IP, "url": text_scrubber.URL, "name": text_scrubber.NAME,
               "address": text_scrubber.ADDRESS}
# Presidio entity type -> the same placeholders (unmapped types become "[ENTITY_TYPE]").
PRESIDIO_ENTITY = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "bank_card",
                   "IP_ADDRESS": "ip", "URL": "url", "PERSON": "name", "LOCATION": "address"}
PLACEHOLDER_RE = re.compile(r"\[[A-Z][A-Z_]*\]|<[A-Z][A-Z_]*>")
PRESIDIO_PHONE_REGIONS = ("CN",)


# ---- scrubbers --------------------------------------------------------------------------------

class PrivrecScrubber:
    label = "privrec scrub_text (TF ops)"

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self._fn = tf.function(text_scrubber.scrub_text,
                               input_signature=[tf.TensorSpec([None], tf.string)])

    def run(self, texts):
        out = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self._fn(tf.constant(texts[start:start + self.batch_size])).numpy())
        return out

    @staticmethod
    def decode(outputs):
        return [o.decode("utf-8") for o in outputs]


class PresidioScrubber:
    label = "Presidio 2.2 patterns"

    def __init__(self):
        import tldextract
        import tldextract.tldextract
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer, CryptoRecognizer, EmailRecognizer, IbanRecognizer,
            IpRecognizer, MacAddressRecognizer, PhoneRecognizer, UrlRecognizer, UuidRecognizer)
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig
        from importlib import metadata

        # Email/URL validation calls tldextract.extract: use the bundled public suffix list.
        tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None,
                                                                    suffix_list_urls=())
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in [EmailRecognizer(), PhoneRecognizer(supported_regions=PRESIDIO_PHONE_REGIONS),
                           CreditCardRecognizer(), IpRecognizer(), UrlRecognizer(),
                           IbanRecognizer(), CryptoRecognizer(), MacAddressRecognizer(),
                           UuidRecognizer()]:
            registry.add_recognizer(recognizer)
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine,
                                       supported_languages=["en"])
        self.anonymizer = AnonymizerEngine()
        entities = self.analyzer.get_supported_entities("en")
        self.operators = {e: OperatorConfig("replace", {"new_value": PLACEHOLDER.get(
            PRESIDIO_ENTITY.get(e), f"[{e}]")}) for e in entities}
        self.version = {p: metadata.version(p) for p in ("presidio-analyzer", "presidio-anonymizer")}

    def scrub(self, text):
        results = self.analyzer.analyze(text=text, language="en")
        if not results:
            return text
        return self.anonymizer.anonymize(text=text, analyzer_results=results,
                                         operators=self.operators).text

    def run(self, texts):
        return [self.scrub(t) for t in texts]

    @staticmethod
    def decode(outputs):
        return outputs


def median_rate(fn, n_rows, repeats):
    """(median rows/s over `repeats` runs, output of the first run)."""
    times, first = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        first = out if first is None else first
    return n_rows / statistics.median(times), first


# ---- scoring ----------------------------------------------------------------------------------

def replaced_regions(src: str, out: str):
    """[(start, end, placeholder)] of the input replaced by each placeholder of `out`; None if
    `out` is not `src` with some spans replaced by placeholders."""
    parts = PLACEHOLDER_RE.split(out)
    placeholders = PLACEHOLDER_RE.findall(out)
    if not placeholders:
        return [] if out == src else None
    pattern = re.escape(parts[0]) + "".join(
        "(.+?)" + re.escape(part) for part in parts[1:])
    match = re.fullmatch(pattern, src, flags=re.DOTALL)
    if not match:
        return None
    return [(match.start(i + 1), match.end(i + 1), p) for i, p in enumerate(placeholders)]


def _overlaps(a, b):
    return a[0] < b[1] and b[0] < a[1]


def score(rows, outputs, n_examples):
    """Per-type recall, precision and failure examples of one scrubber's outputs."""
    planted = {t: 0 for t in TYPES}
    recalled = {t: 0 for t in TYPES}
    masked_any = {t: 0 for t in TYPES}
    missed_by_subtype = {}
    misses = {t: [] for t in TYPES}
    tp = fp = unaligned = 0
    clean_chars = collateral_chars = 0
    fp_by_kind = {}
    false_positives = []
    for row, out in zip(rows, outputs):
        for (start, end, kind), subtype in zip(row.spans, row.subtypes):
            value = row.text[start:end]
            planted[kind] += 1
            gone = value not in out
            masked_any[kind] += gone
            if gone and PLACEHOLDER[kind] in out:
                recalled[kind] += 1
            else:
                key = f"{kind}/{subtype}"
                missed_by_subtype[key] = missed_by_subtype.get(key, 0) + 1
                if len(misses[kind]) < n_examples:
                    misses[kind].append({"text": row.text, "span": value, "output": out})
        regions = replaced_regions(row.text, out)
        if regions is None:
            unaligned += 1
            continue
        in_span = np.zeros(len(row.text), bool)
        for start, end, _ in row.spans:
            in_span[start:end] = True
        replaced = np.zeros(len(row.text), bool)
        for start, end, _ in regions:
            replaced[start:end] = True
        clean_chars += int((~in_span).sum())
        collateral_chars += int((replaced & ~in_span).sum())
        for region in regions:
            if any(_overlaps(region, s) for s in row.spans):
                tp += 1
                continue
            fp += 1
            kinds = [k for *span, k in row.negatives if _overlaps(region, span)] or ["other"]
            for k in kinds:
                fp_by_kind[k] = fp_by_kind.get(k, 0) + 1
            if len(false_positives) < n_examples * 3:
                false_positives.append({"text": row.text, "replaced": row.text[region[0]:region[1]],
                                        "as": region[2], "output": out})
    recall = {t: (recalled[t] / planted[t] if planted[t] else float("nan")) for t in TYPES}
    return {
        "recall": recall,
        "masked_any_placeholder": {t: (masked_any[t] / planted[t] if planted[t] else float("nan"))
                                   for t in TYPES},
        "planted": planted,
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "replacements": tp + fp, "false_positive_replacements": fp,
        "non_pii_chars_masked": collateral_chars / clean_chars if clean_chars else float("nan"),
        "false_positives_by_kind": fp_by_kind, "unaligned_outputs": unaligned,
        "missed_by_subtype": dict(sorted(missed_by_subtype.items())),
        "examples": {"missed": {t: v for t, v in misses.items() if v},
                     "false_positives": false_positives},
    }


def load_titles(movielens_dir, catalog_items):
    """{source: [titles]}; MovieLens is absent (None) when its folder is missing."""
    titles = {}
    path = os.path.join(movielens_dir, "u.item")
    if os.path.exists(path):
        with open(path, encoding="latin-1") as f:
            titles["movielens"] = [line.split("|")[1] for line in f if line.strip()]
    else:
        titles["movielens"] = None
    # generate() draws the catalog first from default_rng(seed): the same titles, without
    # generating a whole interaction log.
    catalog = generator._catalog(np.random.default_rng(7), catalog_items)
    titles["catalog"] = [item["title"] for item in catalog]
    return titles


def titles_changed(scrubber, titles):
    result = {}
    changed_total = n_total = 0
    for source, items in titles.items():
        if items is None:
            result[source] = None
            continue
        out = scrubber.decode(scrubber.run(items))
        changed = [(a, b) for a, b in zip(items, out) if a != b]
        result[source] = {"titles": len(items), "changed": len(changed),
                          "share": len(changed) / len(items), "examples": changed[:5]}
        changed_total += len(changed)
        n_total += len(items)
    result["all"] = {"titles": n_total, "changed": changed_total,
                     "share": changed_total / n_total if n_total else float("nan")}
    return result


# ---- report -----------------------------------------------------------------------------------

def _finite_or_none(value):
    """JSON has no NaN: undefined numbers (no planted span of a type) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _fmt(value, spec):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else format(value, spec)


def print_table(results, args, titles):
    short = {"email": "email", "phone": "phone", "id_number": "id", "bank_card": "card",
             "ip": "ip", "url": "url", "name": "name", "address": "addr"}
    head = f"{'scrubber':<30}{'rows/s (median)':>16}{'vs Presidio':>12}" + \
        "".join(f"{short[t]:>7}" for t in TYPES) + f"{'precision':>10}{'titles chg %':>13}"
    print(f"masking benchmark: {args.rows} labelled texts (seed {args.seed}), median of "
          f"{args.repeats} runs; recall per type, precision of replacements")
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(f"{r['label']:<30}{_fmt(r['rows_per_s'], ',.0f'):>16}"
              f"{_fmt(r.get('ratio_vs_presidio'), '.1f') + ('x' if r.get('ratio_vs_presidio') else ''):>12}"
              + "".join(f"{_fmt(r['recall'][t], '.3f'):>7}" for t in TYPES)
              + f"{_fmt(r['precision'], '.3f'):>10}"
              + f"{_fmt(100 * r['titles']['all']['share'], '.2f'):>13}")
    print()
    print(f"{'masked by any placeholder':<58}" + "".join(f"{short[t]:>7}" for t in TYPES)
          + f"{'non-PII chars masked %':>25}")
    for r in results.values():
        print(f"{r['label']:<58}" + "".join(
            f"{_fmt(r['masked_any_placeholder'][t], '.3f'):>7}" for t in TYPES)
            + f"{_fmt(100 * r['non_pii_chars_masked'], '.2f'):>25}")
    print()
    print("titles changed by source:")
    for source, items in titles.items():
        if items is None:
            print(f"  {source:<10} not found at {os.path.abspath(args.movielens)}: row skipped")
            continue
        cells = ", ".join(f"{r['label']}: {r['titles'][source]['changed']}/{len(items)} "
                          f"({100 * r['titles'][source]['share']:.2f} %)"
                          for r in results.values())
        print(f"  {source:<10} {cells}")
    print()
    p = results["privrec"]
    checks = [(f"recall >= {TARGET_RECALL} for {t}", p["recall"][t] >= TARGET_RECALL)
              for t in STRUCTURED]
    checks.append((f"titles changed <= {100 * TARGET_TITLES_CHANGED:.0f} %",
                   p["titles"]["all"]["share"] <= TARGET_TITLES_CHANGED))
    ratio = p.get("ratio_vs_presidio")
    checks.append((f"throughput >= {TARGET_SPEEDUP:.0f}x Presidio",
                   None if ratio is None else ratio >= TARGET_SPEEDUP))
    print("targets (privrec):")
    for text, ok in checks:
        print(f"  {text:<36} {'n/a' if ok is None else ('met' if ok else 'NOT MET')}")
    return {text: ok for text, ok in checks}


def print_examples(result, n):
    missed = result["examples"]["missed"]
    fps = result["examples"]["false_positives"]
    if not (missed or fps) or n <= 0:
        return
    print(f"\n{result['label']}: examples")
    for kind, examples in missed.items():
        for e in examples[:n]:
            print(f"  missed {kind:<9} {e['span']!r:<40} in {e['text']!r}\n"
                  f"  {'':<16} -> {e['output']!r}")
    for e in fps[:n]:
        print(f"  false positive {e['replaced']!r} as {e['as']} in {e['text']!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="labelled texts to generate")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median counts")
    parser.add_argument("--batch-size", type=int, default=4096, help="privrec batch size")
    parser.add_argument("--movielens", default=DEFAULT_MOVIELENS,
                        help="MovieLens 100K folder (u.item); skipped if missing")
    parser.add_argument("--catalog-items", type=int, default=generator.SIZES["default"].items)
    parser.add_argument("--examples", type=int, default=3,
                        help="failing examples to print per type (privrec)")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)

    rows = labelled_pii.generate(args.rows, args.seed)
    texts = [r.text for r in rows]
    titles = load_titles(args.movielens, args.catalog_items)

    scrubbers = {"privrec": PrivrecScrubber(args.batch_size)}
    presidio_error = None
    try:
        scrubbers["presidio"] = PresidioScrubber()
    except ImportError as e:  # dev-only dependency
        presidio_error = f"Presidio not installed ({e}): install requirements.lock"

    results = {}
    for name, scrubber in scrubbers.items():
        scrubber.run(texts[:64])  # warm up (tracing, lazy loads) outside the timing
        rate, outputs = median_rate(lambda: scrubber.run(texts), len(texts), args.repeats)
        results[name] = {"label": scrubber.label, "rows_per_s": rate,
                         **score(rows, scrubber.decode(outputs), args.examples),
                         "titles": titles_changed(scrubber, titles)}
    if "presidio" in results:
        results["presidio"]["presidio_version"] = scrubbers["presidio"].version
        for r in results.values():
            r["ratio_vs_presidio"] = r["rows_per_s"] / results["presidio"]["rows_per_s"]
    targets = print_table(results, args, titles)
    if presidio_error:
        print(presidio_error)
    print_examples(results["privrec"], args.examples)
    if args.json:
        report = {"rows": len(rows), "seed": args.seed, "repeats": args.repeats,
                  "batch_size": args.batch_size, "types": list(TYPES),
                  "structured_types": list(STRUCTURED),
                  "movielens": os.path.abspath(args.movielens) if titles["movielens"] is not None
                  else None,
                  "targets": targets, "scrubbers": results, "presidio_error": presidio_error}
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(_finite_or_none(report), f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
