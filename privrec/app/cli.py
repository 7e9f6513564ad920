"""`privrec` command line: one sub-command per stage."""
import argparse
import dataclasses
import csv
import gc
import os
import sys

import privrec  # noqa: F401  (runtime switches, before anything imports TensorFlow)
from privrec.data.generator import SIZES

DEFAULT_WORK_DIR = "out"


def _config(args):
    from pipeline import configs
    from components.masking import policy
    overrides = {"allow_dev_key": args.dev_key}
    if getattr(args, "schema", None):
        overrides["schema_path"] = args.schema
    if args.policy:
        overrides["masking_policy"] = args.policy
    elif getattr(args, "size", None) == "tiny" and args.data_dir is None:
        # 80 users cannot be 5-anonymous over the default policy's 10-year bands.
        overrides["masking_policy"] = (policy.TINY_AUDIT_POLICY if args.func is cmd_audit
                                       else policy.TINY_POLICY)
    if args.train_steps:
        overrides["train_steps"] = args.train_steps
    trainer = {}
    if args.func is cmd_run and getattr(args, "size", None) == "default" \
            and args.data_dir is None:
        trainer.update(configs.DEFAULT_SHOP_TRAINER)  # the generated default shop's settings
    if getattr(args, "target_epsilon", None) is not None:
        trainer["target_epsilon"] = args.target_epsilon
    if getattr(args, "warm_start", False):
        trainer["warm_start"] = True
    if getattr(args, "text_trainable_layers", None) is not None:
        trainer["text_trainable_layers"] = args.text_trainable_layers
    if getattr(args, "popularity_prior_noise", None) is not None:
        trainer["popularity_prior_noise"] = args.popularity_prior_noise
    if trainer:
        overrides["trainer"] = dataclasses.replace(configs.TrainerConfig(), **trainer)
    if getattr(args, "epsilon_budget", None) is not None:
        overrides["epsilon_budget"] = args.epsilon_budget
    if getattr(args, "recall_floor", None) is not None:
        overrides["recall_floor"] = args.recall_floor
    if getattr(args, "time_window", None):
        from privrec.data import time_window
        try:
            overrides["time_window"] = tuple(time_window.parse(args.time_window))
        except ValueError as error:
            sys.exit(f"privrec: {error}")
    span_settings = {}
    if getattr(args, "training_spans", None) is not None:
        if args.training_spans < 1:
            sys.exit(f"privrec: --training-spans takes a number of spans >= 1, got "
                     f"{args.training_spans}")
        span_settings["training_spans"] = args.training_spans
    if getattr(args, "spans_disjoint_users", False):
        span_settings["spans_share_users"] = False
    if span_settings:
        overrides["spans"] = dataclasses.replace(configs.SpanConfig(), **span_settings)
    if getattr(args, "beam_runner", None):
        malformed = [setting for setting in args.beam_setting if "=" not in setting]
        if malformed:
            sys.exit(f"privrec: --beam-setting takes OPTION=VALUE, got {malformed[0]!r}")
        settings = dict(setting.partition("=")[::2] for setting in args.beam_setting)
        try:
            overrides["beam_pipeline_args"] = configs.beam_args(args.beam_runner, **settings)
        except ValueError as error:
            sys.exit(f"privrec: {error}")
    config = configs.local_config(args.work_dir, args.data_dir, **overrides)
    try:
        config.schema_file  # a policy of its own needs a schema of its own
        windows = config.time_windows if args.data_dir else True
    except ValueError as error:
        sys.exit(f"privrec: {error}")
    if not windows:
        sys.exit(f"privrec: {config.interactions_dir} declares no time window (time_window.json)"
                 ": give the public period your interactions cover with --time-window START,END "
                 "(dates YYYY-MM-DD at UTC midnight or Unix seconds, END exclusive). The "
                 "train/eval split is cut at shares of it, never at the data's own first and last "
                 "timestamps, which one user could move")
    return config


def _run_pipeline(config, command: str, terminal) -> None:
    """Runs the pipeline, one progress line per component on `terminal`; data that fails
    validation ends the command with the anomalies, a run over the privacy budget with the
    ledger's refusal, a second run on a busy root with the lock's (no traceback: nothing
    failed)."""
    from components.validation.anomalies import DataAnomaliesError
    from pipeline import local_runner, root_lock
    from privrec.app import console
    from privrec.privacy.span_ledger import PrivacyBudgetError
    try:
        with console.ComponentProgress(terminal) as progress:
            local_runner.run(config, printer=progress)
    except (DataAnomaliesError, PrivacyBudgetError, root_lock.ConcurrentRunError) as error:
        sys.exit(f"privrec {command}: {error}")


def _terminal(args):
    """The quiet terminal (privrec/app/console.py): library output to <work-dir>/privrec.log."""
    from privrec.app import console
    return console.quiet(os.path.join(os.path.abspath(args.work_dir), console.LOG_FILE),
                         args.verbose)


def cmd_keygen(args):
    from components.masking import pseudonymizer
    if os.path.exists(args.path):
        sys.exit(f"{args.path} exists; refusing to overwrite a key (pseudonyms would change)")
    os.makedirs(os.path.dirname(os.path.abspath(args.path)), exist_ok=True)
    fd = os.open(args.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pseudonymizer.new_key_hex() + "\n")
    print(f"wrote a new 128-bit pseudonymisation key to {args.path} (mode 600); "
          f"export {pseudonymizer.KEY_FILE_ENV}={os.path.abspath(args.path)}")


def cmd_generate(args):
    from privrec.data import generator
    generator.write_dataset(args.out, args.size, args.seed, args.interactions_seed)
    print(f"wrote the '{args.size}' data set to {args.out}")


def cmd_movielens(args):
    """The layout is told by its files: ratings.dat is MovieLens 1M, else u.data is 100K."""
    from privrec.data import movielens, movielens_1m
    if movielens_1m.is_layout(args.ml_dir):
        movielens_1m.write_dataset(args.ml_dir, args.out, args.user_share)
        policy = "components/masking/policies/movielens_1m.yaml"
    elif args.user_share != 1.0:
        sys.exit("privrec movielens: --user-share applies to the MovieLens 1M layout only")
    else:
        movielens.write_dataset(args.ml_dir, args.out)
        policy = "components/masking/policies/movielens.yaml"
    print(f"converted {args.ml_dir} to {args.out}; run it with --data-dir {args.out} "
          f"--policy {policy}")


def _example_request(config):
    """The latest interaction of the most active user in the eval period, and a typed query."""
    from privrec.data import schema
    path = os.path.join(config.interactions_dir, sorted(os.listdir(config.interactions_dir))[0])
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    last = max(rows, key=lambda r: (len(r[schema.RECENT_ITEM_IDS]), int(r[schema.TIMESTAMP])))
    return last[schema.USER_ID], "wireless headphones", last[schema.RECENT_ITEM_IDS].split()


def cmd_run(args):
    with _terminal(args) as terminal:  # first: importing TFX already warns
        _run(args, terminal.print, terminal)
    print(f"[privrec] run report: {_report_path(args)}")


def _report_path(args) -> str:
    from privrec.app.report import build
    return build.path(args.work_dir)


def _write_report(work_dir: str, say) -> str:
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


def cmd_report(args):
    """Rebuilds <work-dir>/report/index.html from the pipeline root and MLMD."""
    from privrec.app.report import build
    with _terminal(args):
        try:
            target = build.write(args.work_dir)
        except LookupError as error:
            sys.exit(f"privrec report: {error}")
    print(f"[privrec] run report: {target}")


def _run(args, say, terminal):
    from pipeline import run_summary
    from privrec.data import generator
    from serving import client, server
    from trainer import catalog as catalog_lib
    config = _config(args)
    if args.data_dir is None and not os.path.exists(config.catalog_path):
        say(f"[privrec] generating the '{args.size}' data set in {config.data_dir}")
        generator.write_dataset(config.data_dir, args.size)
    _run_pipeline(config, "run", terminal)
    summary = run_summary.read(config)
    _write_report(args.work_dir, say)
    model_server = server.ModelServer(config.model_name, config.push_dir, port=0)
    address, version = model_server.start()
    if version is None:
        model_server.stop()
        say("\n==== privrec run summary ====\n" + "\n".join(summary.lines()))
        sys.exit(f"no model has ever been pushed to {config.push_dir} (this one was not "
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


def cmd_finetune(args):
    """Runs the pipeline on new data with the Trainer continuing the given model version."""
    with _terminal(args) as terminal:  # first: importing TFX already warns
        _finetune(args, terminal)
    print(f"[privrec] run report: {_report_path(args)}")


def _finetune(args, terminal):
    from pipeline import run_summary
    from trainer import catalog as catalog_lib, export
    if args.warm_start:
        sys.exit("privrec finetune: --warm-start does not apply; the model to continue is --from")
    if not args.data_dir:
        sys.exit("privrec finetune: --data-dir is required (catalog.csv and interactions/*.csv "
                 "of the new data; the catalog must be the one the model was trained on)")
    model_dir = os.path.abspath(args.model_dir.rstrip("/"))
    config = _config(args)
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
    _run_pipeline(config, "finetune", terminal)
    summary = run_summary.read(config)
    _write_report(args.work_dir, terminal.print)
    terminal.print("\n==== privrec finetune summary ====\n" + "\n".join(summary.lines()))
    privacy = summary.privacy
    terminal.print(f"fine-tuned {model_dir} on {config.data_dir}: ε = "
                   f"{privacy['epsilon_this_run']:.3f} this run, cumulative ε = "
                   f"{privacy['epsilon']:.3f} over {len(privacy['runs'])} DP runs (was "
                   f"{before['epsilon']:.3f}; budget {config.epsilon_budget})")
    if not summary.pushed:
        sys.exit(f"privrec finetune: the fine-tuned model was not blessed, nothing pushed to "
                 f"{config.push_dir}")


def _tls(args):
    from serving import server
    if not (args.tls_cert or args.tls_key):
        if args.tls_client_ca:
            sys.exit("privrec serve: --tls-client-ca needs --tls-cert and --tls-key")
        return None
    if not (args.tls_cert and args.tls_key):
        sys.exit("privrec serve: TLS needs both --tls-cert and --tls-key (PEM files)")
    return server.TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)


def cmd_serve(args):
    from pipeline import configs
    from serving import auth, batching, server, version_policy
    base_path = os.path.join(args.serving_root, args.model_name)
    model_name, policy = args.model_name, version_policy.VersionPolicy()
    version_labels = {}
    if args.model_config_file:
        try:
            model_config = version_policy.read_model_config(args.model_config_file)
        except (OSError, ValueError) as error:
            sys.exit(f"privrec serve: {error}")
        model_name, base_path, policy = (model_config.name, model_config.base_path,
                                         model_config.policy)
        version_labels = model_config.version_labels
    tokens_file = args.tokens_file or os.environ.get(configs.SERVING_TOKENS_FILE_ENV)
    try:
        tokens = auth.read_tokens(tokens_file) if tokens_file else None
    except (OSError, ValueError) as error:
        sys.exit(f"privrec serve: {error}")
    import tensorflow as tf
    # TF Serving's --tensorflow_{intra,inter}_op_parallelism: 0 leaves TF's choice.
    tf.config.threading.set_intra_op_parallelism_threads(args.tensorflow_intra_op_parallelism)
    tf.config.threading.set_inter_op_parallelism_threads(args.tensorflow_inter_op_parallelism)
    batching_parameters = None
    if args.enable_batching or args.batching_parameters_file:
        try:
            batching_parameters = (batching.read_batching_parameters(
                args.batching_parameters_file) if args.batching_parameters_file
                else batching.BatchingParameters())
        except (OSError, ValueError) as error:
            sys.exit(f"privrec serve: {error}")
    if args.rest_port is not None and (args.tls_cert or args.tls_key):
        sys.exit("privrec serve: the REST API is served without TLS; put a TLS-terminating "
                 "proxy in front of --rest-port, or use gRPC alone with --tls-cert/--tls-key")
    model_server = server.ModelServer(model_name, base_path, port=args.port, host=args.host,
                                      max_batch_size=args.max_batch_size,
                                      max_message_bytes=args.max_message_bytes, tokens=tokens,
                                      tls=_tls(args), policy=policy, rest_port=args.rest_port,
                                      batching_parameters=batching_parameters,
                                      max_in_flight=args.max_in_flight,
                                      version_labels=version_labels)
    address, version = model_server.start()
    print(f"batching: {batching_parameters or 'off'}")
    print(f"bearer-token auth: {'on (' + str(len(tokens)) + ' tokens)' if tokens else 'off'}; "
          f"TLS: {'on' if args.tls_cert else 'off'}; REST API and /monitoring/prometheus/metrics: "
          + (model_server.rest.address if model_server.rest else "off (--rest-port)"))
    if version is None:
        print(f"warning: no version under {base_path} yet; polling for one", file=sys.stderr)
    if model_server.rest:
        print(f"try-it page: http://{model_server.rest.address}/ui")
    print(f"serving {model_name} (version {version}) from {base_path} on {address}; "
          f"signature '{configs.SERVING_SIGNATURE}'", flush=True)
    import signal
    import threading
    stop_requested = threading.Event()  # SIGTERM (e.g. Kubernetes) or Ctrl-C: drain, exit 0
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    while not stop_requested.wait(1.0):
        pass
    print(f"stopping: draining requests in flight (up to {args.drain_seconds} s)", flush=True)
    drained = model_server.stop(grace=args.drain_seconds)
    print("stopped" + ("" if drained else "; some requests were cut off at the grace period"),
          flush=True)


def cmd_recommend(args):
    from serving import client
    import grpc
    try:
        version, items = client.recommend(args.target, args.user_id, args.query,
                                          args.recent_item_ids.split(), args.model_name,
                                          token=os.environ.get(client.TOKEN_ENV),
                                          tls_ca=args.tls_ca,
                                          tls_client=(args.tls_cert, args.tls_key)
                                          if args.tls_cert else None)
    except grpc.RpcError as error:
        sys.exit(f"privrec recommend: {error.code().name}: {error.details()}")
    print(f"version {version}")
    for rank, (item, score) in enumerate(items, 1):
        print(f"{rank:>2}. {item}  {score:.3f}")


def cmd_compile(args):
    from pipeline import kubeflow_v2_runner
    try:
        path = kubeflow_v2_runner.compile_pipeline(_config(args), args.output)
    except ValueError as error:
        sys.exit(f"privrec compile: {error}")
    print(f"wrote the Kubeflow V2 pipeline spec to {path}")


def cmd_audit(args):
    """Membership inference audit: DP model vs the same model without DP, held-out users."""
    with _terminal(args) as terminal:  # quiet like `run`: library output to the log file
        _audit(args, terminal)
    print(f"[privrec] run report: {_report_path(args)}")


def _audit(args, terminal):
    from audit import run as audit_run
    from privrec.app import console
    from privrec.data import generator
    config = _config(args)
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
    _write_report(args.work_dir, say)


def cmd_inventory(args):
    """Prints (or opens) the newest data asset inventory of a run's MLMD store."""
    from components.inventory import files, summary
    metadata = args.metadata or os.path.join(args.work_dir, "metadata.sqlite")
    try:
        directory = summary.latest_uri(metadata)
    except LookupError as error:
        sys.exit(f"privrec inventory: {error}")
    page = os.path.join(directory, files.HTML_FILE)
    if args.html:
        print(page)
        return
    print("\n==== privrec data asset inventory ====")
    print("\n".join(summary.lines(files.read(directory), directory)))
    if args.open:
        import webbrowser
        webbrowser.open("file://" + os.path.abspath(page))


def cmd_privacy_report(args):
    """Privacy-utility curve: the same Trainer at each ε, scored over the whole catalog."""
    with _terminal(args) as terminal:  # first: importing audit (TensorFlow) already prints
        from audit import privacy_utility
        try:
            epsilons = privacy_utility.parse_epsilons(args.epsilons)
        except ValueError as error:
            sys.exit(f"privrec privacy-report: {error}")
        _privacy_report(args, epsilons, terminal)
    print(f"[privrec] run report: {_report_path(args)}")


def _privacy_report(args, epsilons, terminal):
    from audit import privacy_utility
    from privrec.app import console
    from privrec.data import generator
    config = _config(args)
    data_dir = args.data_dir or generator.write_dataset(os.path.join(args.work_dir, "data"),
                                                        args.size)
    with console.ComponentProgress(terminal) as progress:
        report = privacy_utility.curve(data_dir, args.work_dir, epsilons, printer=progress,
                                       settings=config)
    say = terminal.print
    say("\n==== privrec privacy-report: privacy-utility ====")
    say("\n".join(privacy_utility.table(report)))
    say(f"plot: {os.path.join(os.path.abspath(args.work_dir), privacy_utility.PNG_FILE)}")
    _write_report(args.work_dir, say)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="privrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def pipeline_args(p):
        p.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                       help="pipeline root, MLMD, serving dir and generated data go here")
        p.add_argument("--data-dir", help="existing data (catalog.csv, interactions/*.csv); "
                       "default: generate into <work-dir>/data")
        p.add_argument("--time-window", metavar="START,END", help="the public period the "
                       "interactions of --data-dir cover (YYYY-MM-DD or Unix seconds, END "
                       "exclusive); the train/eval split cuts it (default: the data's "
                       "interactions/time_window.json, which generated and MovieLens data have)")
        p.add_argument("--dev-key", action="store_true",
                       help="pseudonymise with a PUBLIC development key (no protection)")
        p.add_argument("--verbose", action="store_true", help="show library logs and warnings "
                       "live instead of writing them to <work-dir>/privrec.log")
        p.add_argument("--train-steps", type=int, help="override the number of DP-SGD steps")
        p.add_argument("--target-epsilon", type=float, help="calibrate the noise multiplier so "
                       "training spends at most this ε (default: the configured multiplier)")
        p.add_argument("--warm-start", action="store_true", help="continue from the last "
                       "blessed model of this work dir; its ε composes with this run's")
        p.add_argument("--text-trainable-layers", type=int, help="train MiniLM's top N layers "
                       "of the query encoder under DP (default 0: frozen)")
        p.add_argument("--popularity-prior-noise", type=float, metavar="SIGMA", help="add a "
                       "DP item-popularity prior to the scores, released with this noise "
                       "multiplier; its ε is part of the run's (default: no prior; helps shops "
                       "with few users)")
        p.add_argument("--epsilon-budget", type=float, help="the Evaluator refuses models whose "
                       "ε exceeds this (default: PipelineConfig.epsilon_budget)")
        p.add_argument("--recall-floor", type=float, help="the Evaluator blesses only models "
                       "whose recall metric reaches this (default: PipelineConfig.recall_floor, "
                       "set for the generated shop; other data may need its own)")
        p.add_argument("--training-spans", type=int, help="span mode (interactions/span-N/ "
                       "folders): train on the newest N spans (default: SpanConfig)")
        p.add_argument("--spans-disjoint-users", action="store_true", help="span mode: the "
                       "spans hold disjoint users, so a span's ε composes only the runs that "
                       "trained on it (default: any user may be in every span)")
        p.add_argument("--policy", help="masking policy YAML (default: components/masking/"
                       "policies/default.yaml; tiny.yaml for --size tiny; movielens.yaml / "
                       "movielens_1m.yaml for data from `privrec movielens`)")
        p.add_argument("--schema", help="curated schema of the masked examples (default: "
                       "pipeline/schema/<policy>.pbtxt of a committed policy; required for "
                       "other policies); any anomaly stops the run before Transform")
        p.add_argument("--beam-runner", default="direct", help="Beam runner preset "
                       "(pipeline/configs.py BEAM_RUNNERS: direct, direct-multiprocess, dataflow, "
                       "flink, spark; docs/scaling.md)")
        p.add_argument("--beam-setting", action="append", default=[], metavar="OPTION=VALUE",
                       help="a Beam pipeline option for the runner, e.g. project=my-project "
                       "(repeatable; required ones are named when missing)")

    p = sub.add_parser("keygen", help="write a new secret pseudonymisation key file")
    p.add_argument("path")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("generate", help="write the embedded synthetic e-commerce data set")
    p.add_argument("--size", default="default", choices=sorted(SIZES))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--interactions-seed", type=int, help="new interactions of the same shop "
                   "(catalog and users from --seed), e.g. data to fine-tune on")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("movielens", help="convert MovieLens (100K: u.data ...; 1M: ratings.dat "
                       "...) into privrec's input layout")
    p.add_argument("--ml-dir", default="../shared/data/movielens-100k")
    p.add_argument("--user-share", type=float, default=1.0, help="MovieLens 1M: keep this share "
                   "of the users (by a hash of the id), with all their ratings (default: all)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_movielens)

    p = sub.add_parser("run", help="run the whole pipeline locally, then serve and query it")
    pipeline_args(p)
    p.add_argument("--size", default="default", choices=sorted(SIZES))
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("finetune", help="continue training a pushed model version with DP on new "
                       "data (masked at ingestion, gated by the Evaluator) and push a new version")
    pipeline_args(p)
    p.add_argument("--from", dest="model_dir", required=True, help="the model version to "
                   "continue, e.g. out/serving/privrec/1712345678 (its keras/two_tower.keras)")
    p.add_argument("--serving-root", help="push the new version under <serving-root>/"
                   "<model-name>/ (default: next to --from)")
    p.add_argument("--model-name", help="default: the name of --from's base path")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("audit", help="membership inference audit (TF-Privacy): the DP model and "
                       "the same model trained without DP, attacked with held-out users")
    pipeline_args(p)
    p.add_argument("--size", default="tiny", choices=sorted(SIZES),
                   help="generated data set when --data-dir is not given")
    p.add_argument("--holdout-share", type=float, default=0.5,
                   help="share of users held out of training (the non-members)")
    p.add_argument("--seed", type=int, default=0, help="which users are held out")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("privacy-report", help="privacy-utility curve: train at each ε and plot "
                       "Recall@100 and NDCG@10 against it (PNG + JSON)")
    pipeline_args(p)
    p.add_argument("--epsilons", default="0.5,1,2,4,8,inf",
                   help="comma-separated ε budgets; inf = without DP")
    p.add_argument("--size", default="tiny", choices=sorted(SIZES),
                   help="generated data set when --data-dir is not given")
    p.set_defaults(func=cmd_privacy_report)

    p = sub.add_parser("report", help="rebuild the run report <work-dir>/report/index.html "
                       "from the pipeline root and MLMD (and the audit's or privacy-report's "
                       "results in the work dir)")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the run's work dir")
    p.add_argument("--verbose", action="store_true", help="show library logs and warnings "
                   "live instead of writing them to <work-dir>/privrec.log")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("inventory", help="print the newest data asset inventory of a run "
                       "(columns, privacy classes, associations, freshness, lineage)")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the run's work dir")
    p.add_argument("--metadata", help="its MLMD store (default: <work-dir>/metadata.sqlite)")
    p.add_argument("--html", action="store_true", help="print only the HTML page's path")
    p.add_argument("--open", action="store_true", help="also open the HTML page in a browser")
    p.set_defaults(func=cmd_inventory)

    p = sub.add_parser("serve", help="serve the pushed model over TF Serving's gRPC API")
    p.add_argument("--serving-root", default=os.path.join(DEFAULT_WORK_DIR, "serving"))
    p.add_argument("--model-name", default="privrec")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--model-config-file", help="TF Serving's --model_config_file (one model): "
                   "name, base_path, model_version_policy and version_labels; overrides --serving-root/--model-name")
    p.add_argument("--rest-port", type=int, help="also serve TF Serving's REST API and "
                   "Prometheus metrics on this port (TF Serving uses 8501; plaintext only)")
    p.add_argument("--max-batch-size", type=int, default=1024)
    p.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024)
    p.add_argument("--max-in-flight", type=int, default=64, help="requests handled at once "
                   "(gRPC and REST together); more are refused with RESOURCE_EXHAUSTED")
    p.add_argument("--drain-seconds", type=float, default=10.0, help="on SIGTERM, how long "
                   "requests in flight may take to finish before the server exits")
    p.add_argument("--tokens-file", help="require 'authorization: Bearer <token>' with one of "
                   "the tokens in this file (default: $PRIVREC_SERVING_TOKENS_FILE; none: no auth)")
    p.add_argument("--enable-batching", action="store_true", help="batch concurrent Predicts "
                   "(TF Serving's --enable_batching; defaults of serving/batching.py)")
    p.add_argument("--batching-parameters-file", help="TF Serving's batching parameters "
                   "(`max_batch_size { value: 32 }` …); implies --enable-batching")
    p.add_argument("--tensorflow-intra-op-parallelism", type=int, default=0, help="threads "
                   "one op may use (0: TF's choice)")
    p.add_argument("--tensorflow-inter-op-parallelism", type=int, default=0,
                   help="ops run in parallel (0: TF's choice)")
    p.add_argument("--tls-cert", help="server certificate chain (PEM); with --tls-key: TLS")
    p.add_argument("--tls-key", help="server private key (PEM)")
    p.add_argument("--tls-client-ca", help="require client certificates signed by this CA (mTLS)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("recommend", help="ask a running server (privrec or TF Serving)")
    p.add_argument("--target", default="127.0.0.1:8500")
    p.add_argument("--model-name", default="privrec")
    p.add_argument("--user-id", default="")
    p.add_argument("--query", default="")
    p.add_argument("--recent-item-ids", default="", help="space-separated item ids; the bearer "
                   "token, if the server wants one, is read from $PRIVREC_SERVING_TOKEN")
    p.add_argument("--tls-ca", help="use TLS, trusting this CA (PEM)")
    p.add_argument("--tls-cert", help="client certificate (PEM), for mutual TLS")
    p.add_argument("--tls-key", help="client private key (PEM), for mutual TLS")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("compile", help="compile the pipeline for an orchestrator")
    pipeline_args(p)
    p.add_argument("--target", choices=["kubeflow"], default="kubeflow")
    p.add_argument("--output", default="privrec_kubeflow_v2.json")
    p.set_defaults(func=cmd_compile)
    return parser


def main(argv=None):
    """The `privrec` command (argv None: the process's own arguments)."""
    args = build_parser().parse_args(argv)
    args.func(args)
    gc.collect()  # release TF functions now, not during interpreter teardown (noisy __del__)
    if argv is None:
        # Library caches (TFMA's shared models, TFT's graphs) keep some TF functions alive past
        # the collection; finalised in interpreter teardown, after TF's own modules, each prints
        # "Exception ignored … AtomicFunction.__del__". Every output is written: end the process.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
