"""What the pipeline sub-commands share: the quiet terminal, the pipeline run with one progress
line per component, and the run report."""
import os
import sys


class ValidationRefused(SystemExit):
    """run_pipeline's stop when validation refused the data: a SystemExit whose code is the
    command's message with the anomalies, which a command can tell from the other refusals
    (it still has a run to report)."""


def run_pipeline(config, command: str, terminal) -> None:
    """Runs the pipeline, one progress line per component on `terminal`; data that fails
    validation ends the command with the anomalies (ValidationRefused), a run over the privacy
    budget with the ledger's refusal, a second run on a busy root with the lock's (SystemExit,
    no traceback: nothing failed)."""
    from components.validation.anomalies import DataAnomaliesError
    from pipeline import local_runner, root_lock
    from privrec.app import console
    from privrec.privacy.span_ledger import PrivacyBudgetError
    try:
        with console.ComponentProgress(terminal) as progress:
            local_runner.run(config, printer=progress)
    except DataAnomaliesError as error:
        raise ValidationRefused(f"privrec {command}: {error}") from error
    except (PrivacyBudgetError, root_lock.ConcurrentRunError) as error:
        sys.exit(f"privrec {command}: {error}")


def terminal(args):
    """The quiet terminal (privrec/app/console.py): library output to <work-dir>/privrec.log."""
    from privrec.app import console
    return console.quiet(os.path.join(os.path.abspath(args.work_dir), console.LOG_FILE),
                         args.verbose)


def report_path(args) -> str:
    from privrec.app.report import build
    return build.path(args.work_dir)


def write_report(work_dir: str, say) -> str:
    """<work-dir>/report/index.html (privrec/app/report/). A report that cannot be built is
    said, with the traceback in the log, not raised: the run itself succeeded."""
    from privrec.app.report import build
    try:
        return build.write(work_dir)
    except Exception as error:  # noqa: BLE001  (the report must not fail the run)
        import traceback
        traceback.print_exc()  # to the log file
        say(f"[privrec] the run report could not be built: {error!r} (`privrec report` "
            "retries it)")
        return ""
