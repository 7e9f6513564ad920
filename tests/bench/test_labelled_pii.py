"""bench/labelled_pii.py's privrec-only report: recall per type and per format variant of the
phones Chinese users type, and the phone look-alikes left intact."""
import json

from bench import labelled_pii

LOOKALIKES = ("price_with_cents", "model_number_grouped", "date_grouped", "business_hours",
              "order_number", "sku_luhn_fail", "price", "date", "model_number")


def test_recall_per_phone_format_and_no_false_positive_on_lookalikes(tmp_path, capsys):
    out = tmp_path / "labelled.json"
    labelled_pii.main(["--rows", "4000", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "phone/cn_landline_spaced" in printed and "hard negative" in printed
    numbers = json.loads(out.read_text())
    assert numbers["recall"]["phone"] >= 0.99, numbers["examples"]["missed"].get("phone")
    chinese = {k: v for k, v in numbers["recall_by_subtype"].items() if k.startswith("phone/cn_")}
    assert len(chinese) == 10
    for variant, figures in chinese.items():
        assert figures["planted"] >= 10 and figures["recall"] >= 0.99, (variant, figures)
    assert not set(numbers["false_positives_by_kind"]) & set(LOOKALIKES), \
        numbers["examples"]["false_positives"]
