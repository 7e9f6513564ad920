"""`privrec inventory`: the newest data asset inventory of a run's MLMD store."""
import os
import sys


def cmd_inventory(args):
    """Prints (or opens) the newest data asset inventory of a run's MLMD store."""
    from components.inventory import files, summary
    from privrec import metadata_store
    metadata = args.metadata or metadata_store.in_work_dir(args.work_dir)
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
