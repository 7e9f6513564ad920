"""The `privrec` sub-commands, one module per sub-command or group of related ones: data.py
(keygen, generate, movielens), runs.py (run, report, finetune), serve.py (serve, recommend),
studies.py (audit, privacy-report), inventory.py, compile.py. privrec/app/cli.py builds the
parser and dispatches to their `cmd_*` handlers; settings.py turns the pipeline flags into a
PipelineConfig and common.py holds what the pipeline commands share. Every heavy import stays
inside a handler, so the CLI starts fast and the quiet terminal starts before TensorFlow."""
