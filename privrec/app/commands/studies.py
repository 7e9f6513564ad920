"""Privacy study sub-commands: `privrec audit` (membership inference) and `privrec
privacy-report` (the privacy-utility curve)."""
import os
import sys

from privrec.app.commands import common, settings


def cmd_audit(args):
    """Membership inference audit: DP model vs the same model without DP, held-out users."""
    with common.terminal(args) as terminal:  # quiet like `run`: library output to the log file
        _audit(args, terminal)
    print(f"[privrec] run report: {common.report_path(args)}")


def _audit(args, terminal):
    from audit import run as audit_run
    from privrec.app import console
    from privrec.data import generator
    config = settings.from_args(args)
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = generator.write_dataset(os.path.join(args.work_dir, "data"), args.size)
    with console.ComponentProgress(terminal) as progress:
        report = audit_run.audit(data_dir, args.work_dir, args.holdout_share, args.seed,
                                 printer=progress, settings=config)
    say = terminal.print
    say(f"\n==== privrec audit: membership inference ({report['holdout']['member_users']} "
        f"member users, {report['holdout']['non_member_users']} held out) ====")
    audit_run.print_table(report, printer=say)
    say(f"report: {os.path.join(os.path.abspath(args.work_dir), audit_run.HTML_FILE)}")
    for directory in report["model_cards"]:
        say(f"model card with these results: {directory}")
    if not report["model_cards"]:
        say("the DP model was not pushed (not blessed): no model card to add the results to")
    common.write_report(args.work_dir, say)


def cmd_privacy_report(args):
    """Privacy-utility curve: the same Trainer at each ε, scored over the whole catalog."""
    with common.terminal(args) as terminal:  # first: importing audit (TensorFlow) already prints
        from audit import privacy_utility
        try:
            epsilons = privacy_utility.parse_epsilons(args.epsilons)
        except ValueError as error:
            sys.exit(f"privrec privacy-report: {error}")
        _privacy_report(args, epsilons, terminal)
    print(f"[privrec] run report: {common.report_path(args)}")


def _privacy_report(args, epsilons, terminal):
    from audit import privacy_utility
    from privrec.app import console
    from privrec.data import generator
    config = settings.from_args(args)
    try:
        privacy_utility.check_reachable(epsilons, config.trainer)
    except ValueError as error:
        sys.exit(f"privrec privacy-report: {error}")
    data_dir = args.data_dir or generator.write_dataset(os.path.join(args.work_dir, "data"),
                                                        args.size)
    with console.ComponentProgress(terminal) as progress:
        report = privacy_utility.curve(data_dir, args.work_dir, epsilons, printer=progress,
                                       settings=config)
    say = terminal.print
    say("\n==== privrec privacy-report: privacy-utility ====")
    say("\n".join(privacy_utility.table(report)))
    say(f"plot: {os.path.join(os.path.abspath(args.work_dir), privacy_utility.PNG_FILE)}")
    common.write_report(args.work_dir, say)
