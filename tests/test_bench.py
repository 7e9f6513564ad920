import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRUCTURED = ("email", "phone", "id_number", "bank_card")


def test_masking_bench_prints_both_scrubbers_and_meets_privrec_targets(tmp_path):
    """bench/masking.py on 2000 labelled texts: the table shows privrec and Presidio side by
    side, and privrec's recall per structured type and its share of changed titles meet the
    issue's targets (throughput is reported, not asserted: it is a benchmark)."""
    out = tmp_path / "masking.json"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "masking.py"), "--rows", "2000",
         "--repeats", "1", "--json", str(out)], capture_output=True, text=True, check=True,
        cwd=ROOT)
    assert "privrec scrub_text" in result.stdout and "Presidio" in result.stdout
    assert "rows/s (median)" in result.stdout and "targets (privrec):" in result.stdout
    numbers = json.loads(out.read_text())
    assert numbers["rows"] == 2000
    privrec, presidio = numbers["scrubbers"]["privrec"], numbers["scrubbers"]["presidio"]
    assert privrec["rows_per_s"] > 0 and presidio["rows_per_s"] > 0
    assert math.isfinite(privrec["ratio_vs_presidio"])
    for kind in STRUCTURED:
        recall = privrec["recall"][kind]
        assert recall is not None and math.isfinite(recall), kind
        assert privrec["planted"][kind] > 100, kind
        assert recall >= 0.99, (kind, recall, privrec["examples"]["missed"].get(kind))
    assert privrec["titles"]["catalog"]["titles"] > 0
    assert privrec["titles"]["all"]["share"] <= 0.01, privrec["titles"]
