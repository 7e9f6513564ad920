"""Data sub-commands: `privrec keygen`, `privrec generate` and `privrec movielens`."""
import os
import sys


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
