#!/usr/bin/env python3
"""Gongkai command line. Argument parsing and exit codes only; the work is in `gongkai/`."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py", description="Build the Gongkai site.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("build", help="validate content and build the site (default)")
    p.add_argument("--config", default="site_config.yaml")
    p.add_argument("--output", help="output folder (default: from site_config.yaml)")
    p.add_argument("--no-search", action="store_true", help="skip the search index")
    p.add_argument("--force", action="store_true", help="rebuild even when no input changed")

    p = sub.add_parser("check", help="validate content files; print file:line:col problems")
    p.add_argument("paths", nargs="*", help="files or folders (default: content/)")
    p.add_argument("--config", default="site_config.yaml")

    p = sub.add_parser("import", help="turn an extracted document text into a YAML file")
    p.add_argument("source")
    p.add_argument("--year", type=int)
    p.add_argument("--agency-code", help="identifier used in URLs (when none is printed, or to override)")
    p.add_argument("--region")
    p.add_argument("-o", "--output", help="write the YAML here and copy the source beside it")
    p.add_argument("--keep-unplaced", action="store_true",
                   help="keep lines that cannot be placed under `unplaced:` instead of failing")
    p.add_argument("--force", action="store_true",
                   help="replace an existing -o file (only one of the same agency year)")

    p = sub.add_parser("serve", help="build, serve on 127.0.0.1 and rebuild on change")
    p.add_argument("--port", type=int)
    p.add_argument("--config", default="site_config.yaml")

    p = sub.add_parser("new", help="scaffold a new agency-year file")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--agency-code", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--region")

    args = parser.parse_args(argv or ["build"])
    if args.command == "build":
        from gongkai.pipeline import build_command
        return build_command(args.config, output=args.output, search=not args.no_search,
                             force=args.force)
    if args.command == "check":
        from gongkai.check import check_command
        return check_command(args.paths, config=args.config)
    if args.command == "import":
        from gongkai.importer import import_command
        return import_command(args)
    if args.command == "serve":
        from gongkai.serve import serve_command
        return serve_command(args.config, port=args.port)
    if args.command == "new":
        from gongkai.scaffold import new_command
        return new_command(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
