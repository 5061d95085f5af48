"""``evstream keys DIR``: create CURVE key files for encrypted, authenticated transport nodes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evstream.errors import UserError

HELP = "create CURVE key pairs for encrypted ZeroMQ transport"
DESCRIPTION = """Create a CURVE key pair: NAME.key (public, give it to peers) and
NAME.key_secret (secret, keep it; readable by you only).

The binding side (usually transport.send) is the CURVE server:
  curve_secret = "keys/server.key_secret"
  curve_clients = "keys/clients"        # optional: only these clients may connect
The connecting side (usually transport.receive) is a client:
  curve_secret = "keys/laptop.key_secret"
  curve_server_key = "keys/server.key"

examples:
  evstream keys keys --name server
  evstream keys keys/clients --name laptop
  evstream keys keys --name server --force --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="folder for the key files (created if missing)")
    parser.add_argument("--name", default="evstream", help="key pair name (default: evstream)")
    parser.add_argument("--force", action="store_true", help="overwrite existing key files of that name")
    parser.add_argument("--json", action="store_true", help="print the file paths as JSON")


def run(args: argparse.Namespace) -> int:
    import os

    import zmq
    import zmq.auth

    if not zmq.has("curve"):
        raise UserError("this libzmq was built without CURVE support; install pyzmq wheels from PyPI")
    if not args.name or Path(args.name).name != args.name:
        raise UserError(f"--name {args.name!r} must be a plain file name without a folder")
    directory: Path = args.directory
    public, secret = directory / f"{args.name}.key", directory / f"{args.name}.key_secret"
    existing = [p for p in (public, secret) if p.exists()]
    if existing and not args.force:
        raise UserError(f"{existing[0]} already exists; pick another --name or pass --force to replace it")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in existing:
            path.unlink()
        public_file, secret_file = zmq.auth.create_certificates(directory, args.name)
        os.chmod(secret_file, 0o600)
    except OSError as exc:
        raise UserError(f"cannot write key files in {directory}: {exc.strerror}") from None
    result = {"public": str(public_file), "secret": str(secret_file)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"public key: {public_file}  (share with peers)")
        print(f"secret key: {secret_file}  (keep private)")
    return 0
