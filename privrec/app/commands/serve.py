"""Serving sub-commands: `privrec serve` (the pushed model over TF Serving's gRPC API) and
`privrec recommend` (ask a running server)."""
import os
import sys


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
