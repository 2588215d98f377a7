#!/usr/bin/env python3
"""Gongkai command line. Argument parsing and exit codes only; the work is in `gongkai/`."""
from __future__ import annotations

import argparse
import re
import sys

# argparse's own complaints, as an editor reads them (the option names stay as typed).
USAGE_ERRORS = [
    (r"^argument (\S+): invalid int value: (.*)$", r"选项 \1 应为整数，实为 \2"),
    (r"^argument (\S+): expected one argument$", r"选项 \1 后面缺少值"),
    (r"^argument (\S+): invalid choice: (.*?) \(choose from (.*)\)$", r"无效的命令 \2（可用：\3）"),
    (r"^the following arguments are required: (.*)$", r"缺少必需的选项：\1"),
    (r"^unrecognized arguments: (.*)$", r"无法识别的参数：\1"),
]


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors in Chinese, still ending in exit code 2."""

    def error(self, message: str):
        for pattern, replacement in USAGE_ERRORS:
            if re.match(pattern, message):
                message = re.sub(pattern, replacement, message)
                break
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}（用 --help 查看用法）\n")


def main(argv: list[str]) -> int:
    parser = Parser(prog="build.py", description="Build the Gongkai site.")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    p = sub.add_parser("build", help="validate content and build the site (default)")
    p.add_argument("--config", default="site_config.yaml")
    p.add_argument("--output", help="output folder (default: from site_config.yaml)")
    p.add_argument("--no-search", action="store_true", help="skip the search index")
    p.add_argument("--force", action="store_true", help="rebuild even when no input changed")
    p.add_argument("--shard", action="append", metavar="REGION[/YEAR]",
                   help="build only this region's (or region's year's) agency years into a shard folder, "
                        "for `merge` (repeatable; no site-wide pages, no search index)")

    p = sub.add_parser("merge", help="join shard folders (build --shard) into the site")
    p.add_argument("shards", nargs="+", metavar="DIR")
    p.add_argument("--output", help="output folder (default: from site_config.yaml)")
    p.add_argument("--config", default="site_config.yaml")
    p.add_argument("--no-search", action="store_true", help="skip the search index")

    p = sub.add_parser("shard-key", help="print a shard's input fingerprint (a CI cache key)")
    p.add_argument("--shard", action="append", required=True, metavar="REGION[/YEAR]")
    p.add_argument("--config", default="site_config.yaml")

    p = sub.add_parser("check", help="validate content files; print file:line:col problems")
    p.add_argument("paths", nargs="*", help="files or folders (default: content/)")
    p.add_argument("--config", default="site_config.yaml")

    p = sub.add_parser("import", help="turn a .docx, .pdf, .doc or extracted text into a YAML file")
    p.add_argument("source")
    p.add_argument("--year", type=int)
    p.add_argument("--agency-code", help="identifier used in URLs (when none is printed, or to override)")
    p.add_argument("--region")
    p.add_argument("--agency-name", help="the agency's name, when the document prints none")
    p.add_argument("--unit", help="the unit of amounts (元, 万元), when the document prints none")
    p.add_argument("-o", "--output", help="write the YAML here and copy the source beside it")
    p.add_argument("--show-text", action="store_true",
                   help="print the text read from the file (the lines import messages number) and stop")
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
    if args.command == "build" and args.shard and not args.output:
        parser.error("--shard 需要 --output（分片写入单独的文件夹，再由 merge 合并）")
    if args.command == "build" and args.shard:
        from gongkai.shard import build_shard_command
        return build_shard_command(args.config, args.shard, output=args.output, force=args.force)
    if args.command == "merge":
        from gongkai.shard import merge_command
        return merge_command(args.config, args.shards, output=args.output, search_index=not args.no_search)
    if args.command == "shard-key":
        from gongkai.shard import shard_key_command
        return shard_key_command(args.config, args.shard)
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
