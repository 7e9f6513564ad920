"""privrec/app/console.py's ComponentProgress shows what a running component reports on
privrec.progress next to its spinner; privrec/progress.py is a no-op with nobody listening."""
import io

from rich.console import Console

from privrec import progress
from privrec.app import console as console_lib


def _rendered(component_progress) -> str:
    out = Console(file=io.StringIO(), record=True, width=120)
    out.print(component_progress.progress.get_renderable())
    return out.export_text()


def test_a_running_components_report_is_shown_next_to_its_spinner():
    terminal = Console(file=io.StringIO(), record=True, width=120)
    with console_lib.ComponentProgress(terminal) as shown:
        shown("[privrec] ▶ running: Transform")
        shown("[privrec] ▶ running: Trainer")
        progress.report("Trainer", "step 40/400, ε 0.52 spent")
        progress.report("Evaluator", "not running: kept for when it starts")
        lines = _rendered(shown).splitlines()
        trainer = next(line for line in lines if "Trainer" in line)
        assert "running Trainer · step 40/400, ε 0.52 spent" in trainer
        assert "0:00:0" in trainer  # the elapsed time stays
        transform = next(line for line in lines if "Transform" in line)
        assert "step" not in transform
        progress.report("Trainer", "step 80/400, ε 0.71 spent")
        assert "step 80/400, ε 0.71 spent" in _rendered(shown)
        shown("[privrec] ✔ finished: Trainer in 12s")
        assert "Trainer" not in _rendered(shown)
        shown("[privrec] ▶ running: Evaluator")
        assert "running Evaluator · not running: kept for when it starts" in _rendered(shown)
    assert not progress.listening()  # unsubscribed when the block ends
    assert "✔ finished: Trainer in 12s" in terminal.export_text()


def test_a_report_with_nobody_listening_does_nothing():
    assert not progress.listening()
    progress.report("Trainer", "step 1/2")


def test_a_failing_listener_is_dropped_and_the_component_goes_on():
    def broken(component, text):
        raise RuntimeError("display bug")
    with progress.listening_to(broken):
        progress.report("Trainer", "step 1/2")  # logged, not raised
        assert not progress.listening()
