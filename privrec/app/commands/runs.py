"""Pipeline run sub-commands: `privrec run` (the pipeline, then serve and query the pushed
model), `privrec report` (rebuild the run report) and `privrec finetune` (continue a pushed
model on new data)."""
import csv
import dataclasses
import os
import sys
from typing import Optional

from privrec.app.commands import common, settings


def _example_request(config):
    """The latest interaction of the most active user in the eval period, and a typed query."""
    from privrec.data import schema
    path = os.path.join(config.interactions_dir, sorted(os.listdir(config.interactions_dir))[0])
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    last = max(rows, key=lambda r: (len(r[schema.RECENT_ITEM_IDS]), int(r[schema.TIMESTAMP])))
    return last[schema.USER_ID], "wireless headphones", last[schema.RECENT_ITEM_IDS].split()


def cmd_run(args):
    with common.terminal(args) as terminal:  # first: importing TFX already warns
        refusal = _run(args, terminal.print, terminal)
    print(f"[privrec] run report: {common.report_path(args)}")
    if refusal:
        sys.exit(refusal)


def cmd_report(args):
    """Rebuilds <work-dir>/report/index.html from the pipeline root and MLMD."""
    from privrec.app.report import build
    with common.terminal(args):
        try:
            target = build.write(args.work_dir)
        except LookupError as error:
            sys.exit(f"privrec report: {error}")
    print(f"[privrec] run report: {target}")


def _run(args, say, terminal) -> Optional[str]:
    """The pipeline, its report, then one query of the pushed model; returns why the command
    fails once the report is written (validation refused the data, or nothing to serve)."""
    from pipeline import run_summary
    from privrec.data import generator
    from serving import client, server
    from trainer import catalog as catalog_lib
    config = settings.from_args(args)
    if args.data_dir is None and not os.path.exists(config.catalog_path):
        say(f"[privrec] generating the '{args.size}' data set in {config.data_dir}")
        generator.write_dataset(config.data_dir, args.size)
    try:
        common.run_pipeline(config, "run", terminal)
    except common.ValidationRefused as refusal:
        common.write_report(args.work_dir, say)  # what ran: data, masking, validation
        return str(refusal.code)
    summary = run_summary.read(config)
    common.write_report(args.work_dir, say)
    model_server = server.ModelServer(config.model_name, config.push_dir, port=0)
    address, version = model_server.start()
    if version is None:
        model_server.stop()
        say("\n==== privrec run summary ====\n" + "\n".join(summary.lines()))
        return (f"no model has ever been pushed to {config.push_dir} (this one was not "
                "blessed), so there is nothing to serve")
    say(f"[privrec] gRPC server on {address} serving version {version}")
    try:
        user_id, query, recent = _example_request(config)
        served_version, items = client.recommend(address, user_id, query, recent,
                                                 config.model_name)
    finally:
        model_server.stop()
    say("\n==== privrec run summary ====\n" + "\n".join(summary.lines()))
    say(f"recommendations (over gRPC, version {served_version}) for a user with recent items "
        f"{' '.join(recent) or '(none)'} and query {query!r}:")
    catalog = catalog_lib.Catalog.load(config.catalog_path)
    titles = dict(zip(catalog.item_ids, catalog.titles))
    for rank, (item, score) in enumerate(items, 1):
        say(f"  {rank:>2}. {item}  score {score:.3f}  {titles.get(item, '')}")
    return None


def cmd_finetune(args):
    """Runs the pipeline on new data with the Trainer continuing the given model version."""
    with common.terminal(args) as terminal:  # first: importing TFX already warns
        refusal = _finetune(args, terminal)
    print(f"[privrec] run report: {common.report_path(args)}")
    if refusal:
        sys.exit(refusal)


def _finetune(args, terminal) -> Optional[str]:
    """The pipeline continuing --from, its report and summary; returns why the command fails
    once the report is written (validation refused the new data, or nothing was pushed)."""
    from pipeline import run_summary
    from trainer import catalog as catalog_lib, export
    if args.warm_start:
        sys.exit("privrec finetune: --warm-start does not apply; the model to continue is --from")
    if not args.data_dir:
        sys.exit("privrec finetune: --data-dir is required (catalog.csv and interactions/*.csv "
                 "of the new data; the catalog must be the one the model was trained on)")
    model_dir = os.path.abspath(args.model_dir.rstrip("/"))
    config = settings.from_args(args)
    try:  # fail before the pipeline starts
        before = export.read_privacy_report(model_dir)
        catalog = catalog_lib.Catalog.load(config.catalog_path)
        export.check_same_catalog(export.load_keras(model_dir), catalog, model_dir)
    except (OSError, ValueError) as error:
        sys.exit(f"privrec finetune: {error}")
    base_path = os.path.dirname(model_dir)  # push next to the model fine-tuned by default
    config = dataclasses.replace(
        config, serving_root=args.serving_root or os.path.dirname(base_path),
        model_name=args.model_name or os.path.basename(base_path),
        trainer=dataclasses.replace(config.trainer, init_from=model_dir))
    try:
        common.run_pipeline(config, "finetune", terminal)
    except common.ValidationRefused as refusal:
        common.write_report(args.work_dir, terminal.print)  # what ran: masking, validation
        return str(refusal.code)
    summary = run_summary.read(config)
    common.write_report(args.work_dir, terminal.print)
    terminal.print("\n==== privrec finetune summary ====\n" + "\n".join(summary.lines()))
    privacy = summary.privacy
    terminal.print(f"fine-tuned {model_dir} on {config.data_dir}: ε = "
                   f"{privacy['epsilon_this_run']:.3f} this run, cumulative ε = "
                   f"{privacy['epsilon']:.3f} over {len(privacy['runs'])} DP runs (was "
                   f"{before['epsilon']:.3f}; budget {config.epsilon_budget})")
    if not summary.pushed:
        return (f"privrec finetune: the fine-tuned model was not blessed, nothing pushed to "
                f"{config.push_dir}")
    return None
