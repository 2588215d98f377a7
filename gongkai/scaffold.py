"""`build.py new`: a valid, commented agency-year file with every section and one project table."""
from __future__ import annotations

import json
import os
import sys

from .config import load_config
from .importer import why_not
from .validate import URL_SAFE_RE, check_placement, model_text

TEMPLATE = """\
# {year} 年 {name} 部门预算绩效目标。格式说明见 docs/content-format.md 与 docs/editing.md。
# 按原文填写；原文没有印出的项删去或留空。
year: {year}
agency:
  name: {name_q}          # 单位名称，按原文
  {id_key}: {code_q}           # 单位编码（按原文；原文没有时改用 slug:）
  region: {region_q}      # 所属地区，须列在 site_config.yaml 的 regions 中
document:
  title:                  # 封面标题，按原文分行，例如 |-  换行书写
  status:                 # 例如 (草案)
  compiler:               # 例如 某某单位编制
  reviewer:               # 例如 某某财政局审核
  published:              # 公开日期，例如 {year}-02-15
unit: 元                   # 金额单位，按表格所印：元 或 万元
originals:                # 原文件放在 content/{year}/{ident}/ 下，在此列出
  # - file: 原文.pdf
  #   title: 部门预算绩效文本（PDF）
parts:
  - number: 第一部分
    title: 部门整体绩效目标
    sections:
      - number: 一、
        title: 总体绩效目标
        text:             # 正文，可用 Markdown；多段时用 |- 并换行书写
      - number: 二、
        title: 分项绩效目标
        text:
      - number: 三、
        title: 工作保障措施
        text:
  - number: 第二部分
    title: 预算项目绩效目标
    projects:
      - number: 1、
        title: 项目名称绩效目标表      # 表格标题，按原文
        agency_line:      # 表格上方的单位行，例如 {code}{name}
        code:             # 项目编码，按原文，用引号括起，例如 "287-0601-JBN-CK81"
        name:             # 项目名称
        budget:           # 预算数，例如 4000.00
        fiscal:           # 其中：财政资金
        other:            # 其他资金（空白则不填）
        purpose:          # 资金用途
        plan:             # 资金支出计划（累计），空白的期次不填 value
          - period: 3月底
            value:
          - period: 6月底
            value:
          - period: 10月底
            value:
          - period: 12月底
            value:
        goals:            # 绩效目标，多条时用 |- 并逐行书写
        indicators:       # 一行一项；与上一行合并的一级/二级指标不填
          - level1: 产出指标
            level2: 数量指标
            level3:
            description:
            value:        # 指标值，按原文照录，例如 ≥90%
            basis:        # 指标值确定依据
          - level1: 效益指标
            level2: 社会效益指标
            level3:
            description:
            value:
            basis:
          - level1: 满意度指标
            level2: 服务对象满意度指标
            level3:
            description:
            value:
            basis:
"""


# Content keys whose value an option of `build.py new` gives: a problem there is the option's.
OPTION_KEYS = {"year": "--year", "agency.name": "--name", "agency.code": "--agency-code",
               "agency.region": "--region"}


def scaffold(year: int, code: str, name: str, region: str) -> str:
    """The text of a new agency-year file."""
    # In comments the name is shown with printable characters only: a line break there
    # would end the comment and turn the rest into YAML, a control character would make
    # the whole file unreadable. The value itself is escaped, and judged by the validator.
    comment_name = "".join(c if c.isprintable() else " " for c in name)
    return TEMPLATE.format(year=year, name=comment_name, code=code, ident=code, id_key="code",
                           name_q=json.dumps(name, ensure_ascii=False),
                           code_q=json.dumps(code, ensure_ascii=False),
                           region_q=json.dumps(region, ensure_ascii=False))


def new_command(args) -> int:
    """Write content/{year}/{code}.yaml (never over an existing file) once it passes `check`."""
    config, problems = load_config("site_config.yaml")
    if config is None:
        for problem in problems:
            print(problem.format(), file=sys.stderr)
        return 1
    region = args.region or (config.regions[0] if config.regions else "")
    if region not in config.regions:
        print(f"error: 地区 {region!r} 没有列在 site_config.yaml 的 regions 中 "
              f"(hint: 可选：{'、'.join(config.regions)})", file=sys.stderr)
        return 1
    if not URL_SAFE_RE.match(args.agency_code):
        print(f"error: --agency-code {args.agency_code!r} 不能用作网址的一部分 "
              "(hint: 只用字母、数字和“-”)", file=sys.stderr)
        return 1
    path = config.content_dir / str(args.year) / f"{args.agency_code}.yaml"
    if os.path.lexists(path):
        print(f"error: {path} 已存在，未覆盖 (hint: 直接编辑它)", file=sys.stderr)
        return 1
    text = scaffold(args.year, args.agency_code, args.name, region)
    # Checked before anything is written: a refused file leaves no file and no folder.
    model, problems, anchors = model_text(text, str(path))
    if model is not None:
        problems = problems + check_placement(model, anchors, path, config.content_dir, config.regions)
    errors = [p for p in problems if p.is_error]
    if errors:
        given = {"--year": args.year, "--name": args.name, "--agency-code": args.agency_code,
                 "--region": region}
        for problem in errors:
            print(problem.format(), file=sys.stderr)
            option = OPTION_KEYS.get(problem.key)
            if option:
                print(f"{problem.file}:{problem.line}:{problem.column}: note: {problem.key}: "
                      f"此值来自选项 {option} {given[option]!r}，请改正该选项", file=sys.stderr)
        print(f"error: 未创建 {path}", file=sys.stderr)
        return 1
    try:
        made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:   # "x": never over a file made meanwhile
            f.write(text)
    except OSError as exc:
        for folder in made:                             # deepest first
            try:
                folder.rmdir()
            except OSError:
                pass
        print(f"error: 无法创建 {path}：{why_not(exc)} (hint: 检查文件夹是否可写，磁盘是否已满)",
              file=sys.stderr)
        return 1
    print(f"已创建 {path}：填写内容后运行 make check 或 make serve")
    return 0
