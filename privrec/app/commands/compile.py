"""`privrec compile`: the pipeline compiled for an orchestrator (Kubeflow V2)."""
import sys

from privrec.app.commands import settings


def cmd_compile(args):
    from pipeline import kubeflow_v2_runner
    try:
        path = kubeflow_v2_runner.compile_pipeline(settings.from_args(args), args.output)
    except ValueError as error:
        sys.exit(f"privrec compile: {error}")
    print(f"wrote the Kubeflow V2 pipeline spec to {path}")
