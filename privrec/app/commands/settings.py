"""The pipeline sub-commands' flags (run, finetune, audit, privacy-report, compile) as a
PipelineConfig."""
import dataclasses
import sys


def from_args(args):
    """The PipelineConfig of a pipeline sub-command's flags (`privrec run --help`); a setting
    that cannot hold ends the command with why."""
    from pipeline import configs
    from components.masking import policy
    overrides = {"allow_dev_key": args.dev_key}
    if getattr(args, "schema", None):
        overrides["schema_path"] = args.schema
    if args.policy:
        overrides["masking_policy"] = args.policy
    elif getattr(args, "size", None) == "tiny" and args.data_dir is None:
        # 80 users cannot be 5-anonymous over the default policy's 10-year bands.
        overrides["masking_policy"] = (policy.TINY_AUDIT_POLICY if args.command == "audit"
                                       else policy.TINY_POLICY)
    if args.train_steps:
        overrides["train_steps"] = args.train_steps
    trainer = {}
    if args.command == "run" and getattr(args, "size", None) == "default" \
            and args.data_dir is None:
        trainer.update(configs.DEFAULT_SHOP_TRAINER)  # the generated default shop's settings
    elif args.policy:  # e.g. MovieLens 1M's benchmarked settings
        preset = configs.policy_preset(args.policy)
        trainer.update(preset.pop("trainer", {}))
        overrides.update(preset)
    if getattr(args, "target_epsilon", None) is not None:
        trainer["target_epsilon"] = args.target_epsilon
    if getattr(args, "warm_start", False):
        trainer["warm_start"] = True
    for flag, field in (("users_per_step", "users_per_step"), ("user_epochs", "epochs"),
                        ("negatives_per_step", "negatives_per_step")):
        value = getattr(args, flag, None)
        if value is not None:
            if value <= 0:
                sys.exit(f"privrec: --{flag.replace('_', '-')} takes a number above 0, got "
                         f"{value:g}")
            trainer[field] = value
    if getattr(args, "without_item_ids", False):
        trainer["item_id_embeddings"] = False
    if getattr(args, "title_dims", None) is not None:
        if not 0 <= args.title_dims < configs.TEXT_VECTOR_DIMS:
            sys.exit(f"privrec: --title-dims takes a number of dimensions in "
                     f"1..{configs.TEXT_VECTOR_DIMS - 1} (below MiniLM's "
                     f"{configs.TEXT_VECTOR_DIMS}; 0: the full vectors), got {args.title_dims}")
        trainer["title_dims"] = args.title_dims or None
    if getattr(args, "ema_momentum", None) is not None:
        if not 0 <= args.ema_momentum < 1:
            sys.exit(f"privrec: --ema-momentum takes a momentum in [0, 1) (0: the last step's "
                     f"weights), got {args.ema_momentum:g}")
        trainer["ema_momentum"] = args.ema_momentum or None
    if getattr(args, "text_trainable_layers", None) is not None:
        trainer["text_trainable_layers"] = args.text_trainable_layers
    if getattr(args, "popularity_prior_noise", None) is not None:
        if args.popularity_prior_noise < 0:
            sys.exit(f"privrec: --popularity-prior-noise takes a noise multiplier above 0 (0: "
                     f"no prior), got {args.popularity_prior_noise:g}")
        trainer["popularity_prior_noise"] = args.popularity_prior_noise or None
    if getattr(args, "rare_item_exponent", None) is not None:
        if args.rare_item_exponent < 0:
            sys.exit(f"privrec: --rare-item-exponent takes a number >= 0, got "
                     f"{args.rare_item_exponent:g}")
        trainer["rare_item_exponent"] = args.rare_item_exponent
    if getattr(args, "item_id_min_count", None) is not None:
        if args.item_id_min_count < 0:
            sys.exit(f"privrec: --item-id-min-count takes a DP count >= 0, got "
                     f"{args.item_id_min_count:g}")
        if getattr(args, "without_item_ids", False):
            sys.exit("privrec: --item-id-min-count selects the items that get item-id "
                     "embeddings; --without-item-ids gives none: take one of the two")
        # Item ids on, for the frequent items (a preset may have had them off).
        trainer.update(item_id_embeddings=True, item_id_min_count=args.item_id_min_count)
    if trainer.get("rare_item_exponent") and trainer.get("popularity_prior_noise") is None:
        sys.exit("privrec: --rare-item-exponent draws by the popularity prior's DP counts, so "
                 "it needs --popularity-prior-noise (or --rare-item-exponent 0)")
    if trainer.get("item_id_min_count") is not None \
            and trainer.get("popularity_prior_noise") is None:
        sys.exit("privrec: --item-id-min-count selects items by the popularity prior's DP "
                 "counts, so it needs --popularity-prior-noise")
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
