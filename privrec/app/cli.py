"""`privrec` command line: one sub-command per stage."""
import argparse
import gc
import os
import sys

import privrec  # noqa: F401  (runtime switches, before anything imports TensorFlow)
from privrec.app.commands import settings
from privrec.app.commands.compile import cmd_compile
from privrec.app.commands.data import cmd_generate, cmd_keygen, cmd_movielens
from privrec.app.commands.inventory import cmd_inventory
from privrec.app.commands.runs import cmd_finetune, cmd_report, cmd_run
from privrec.app.commands.serve import cmd_recommend, cmd_serve
from privrec.app.commands.studies import cmd_audit, cmd_privacy_report
from privrec.data.generator import SIZES

DEFAULT_WORK_DIR = "out"

# The handlers live in privrec/app/commands/, one module per sub-command or group; this module
# builds the parser and dispatches. The PipelineConfig of the flags, under its old name:
_config = settings.from_args


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
        p.add_argument("--users-per-step", type=float, help="expected users per DP-SGD step "
                       "(Poisson sampling; default: TrainerConfig's, 1,024 for the generated "
                       "default shop): more users per step, less noise per user")
        p.add_argument("--user-epochs", type=int, help="times each user is sampled on average "
                       "(sets the steps; default: TrainerConfig.epochs)")
        p.add_argument("--negatives-per-step", type=int, help="catalog negatives a step's "
                       "examples share (default 64; large user batches learn with more)")
        p.add_argument("--without-item-ids", action="store_true", help="items are their public "
                       "title and category alone, no item-id embeddings: fewer values for DP "
                       "to noise on a large catalog")
        p.add_argument("--title-dims", type=int, metavar="N", help="project title and query "
                       "vectors onto the catalog titles' top N principal directions before "
                       "the towers: fewer values for DP to noise, a cheaper DP step (default: "
                       "none, or the policy's preset; 0: the full MiniLM vectors)")
        p.add_argument("--ema-momentum", type=float, metavar="M", help="end training on the "
                       "weights' exponential moving average at momentum M (0 < M < 1; "
                       "post-processing, no ε; default: none, or the policy's preset; 0: the "
                       "last step's weights)")
        p.add_argument("--text-trainable-layers", type=int, help="train MiniLM's top N layers "
                       "of the query encoder under DP (default 0: frozen)")
        p.add_argument("--popularity-prior-noise", type=float, metavar="SIGMA", help="add a "
                       "DP item-popularity prior to the scores, released with this noise "
                       "multiplier; its ε is part of the run's (default: none, or the "
                       "policy's preset; 0: none)")
        p.add_argument("--rare-item-exponent", type=float, metavar="ALPHA", help="draw each "
                       "sampled user's examples of a step with weight (1 + the item's DP "
                       "count)^-ALPHA, rare items first; needs --popularity-prior-noise, whose "
                       "counts it uses (default 0: uniformly)")
        p.add_argument("--item-id-min-count", type=float, metavar="COUNT", help="only items "
                       "whose DP count reaches COUNT get an item-id embedding of their own, "
                       "the rest share one (DP-FEST's filter); needs --popularity-prior-noise, "
                       "whose counts it uses (default: every item)")
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
