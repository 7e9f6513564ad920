import json
import subprocess
import sys
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_masking_bench_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "masking_throughput.py"), "--size", "tiny",
         "--repeats", "1", "--json", str(out)], capture_output=True, text=True, check=True,
        cwd=ROOT)
    assert "baseline: Python re" in result.stdout and "ratio" in result.stdout
    numbers = json.loads(out.read_text())
    assert numbers["rows"] == 3000
    assert numbers["tf_ops_rows_per_s"] > 0 and numbers["python_re_rows_per_s"] > 0
