"""render: book/*.md plus results/ -> one Markdown document -> pandoc -> one self-contained HTML file.

Every part becomes a section of the one page: links between parts become anchors, links to the
repository's files become paths relative to the HTML file, excerpts get a caption naming their
file, and each results directive becomes the lab's table and plots (or a box saying how to make them)."""
import datetime
import os
import re
import shutil
import subprocess

from . import source
from .results import results_block, tour_block

TITLE = "one-loop: how one server holds thousands of connections"


def caption(block, out_dir, root):
    """The line above a code block: where an excerpt comes from, or that a sketch is not from anywhere."""
    if "file" in block.attrs:
        href = os.path.relpath(os.path.join(root, block.attrs["file"]), out_dir)
        return f"[{block.attrs['file']}]({href}){{.excerpt-file}}"
    return "*A sketch, not code from the repository.*{.excerpt-file}" if "sketch" in block.classes else None


def rewrite_links(line, blanked, part, by_name, book_dir, out_dir):
    """Rewrites link targets in `line`; `blanked` is the same line with inline code blanked, so
    positions agree and nothing inside backticks is touched."""
    pieces, last = [], 0
    for m in source.LINK.finditer(blanked):
        target = m.group(3)
        resolved = source.resolve(target, part, by_name, book_dir, out_dir)
        href = resolved.href
        if m.group(1) and resolved.kind == "file":  # images: an absolute path, for pandoc to embed
            href = os.path.normpath(os.path.join(book_dir, target))
        start = m.start(3)
        pieces += [line[last:start], href]
        last = m.end(3)
    return "".join(pieces) + line[last:]


def part_markdown(part, by_name, book_dir, out_dir, root, results_dir):
    blocks = {b.line: b for b in source.scan(part)[0]}
    _, prose = source.scan(part)
    blanked = dict(prose)
    ids = {line: ident for line, _, _, ident in source.headings(part)}
    out, closing, lines = [], None, part.lines
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i]
        i += 1
        if number in blocks:  # a fence opens
            block = blocks[number]
            label = caption(block, out_dir, root)
            fence = re.match(r"\s*(`{3,}|~{3,})", line).group(1)
            language = "{." + block.language + "}" if block.language else ""
            if label:
                out += ["", "::: {.excerpt}", label, ""]
            out += [fence + language] + block.body + [fence]
            if label:
                out += [":::", ""]
            i = number + len(block.body) + 1  # past the closing fence
            continue
        if number not in blanked:
            continue
        directive = source.DIRECTIVE.match(line)
        if directive:
            attrs = dict(source.ATTRIBUTE.findall(directive.group(2)))
            inner = []
            while i < len(lines) and lines[i].strip() != ":::":
                inner.append(lines[i])
                i += 1
            i += 1  # the closing :::
            made = results_block(attrs, results_dir) if directive.group(1) == "results" else tour_block(results_dir)
            out += ["", "::: {.results}"] + inner + made + [":::", ""]
            continue
        if number in ids and not source.HEADING.match(line).group(4):
            line = f"{line} {{#{ids[number]}}}"
        out.append(rewrite_links(line, blanked[number], part, by_name, book_dir, out_dir))
    return "\n".join(out)


def combined(book_dir, out_dir, root, results_dir):
    parts = source.parts(book_dir)
    by_name = {p.name: p for p in parts}
    text = [part_markdown(p, by_name, book_dir, out_dir, root, results_dir) for p in parts]
    return "\n\n".join(text) + "\n"


def pandoc_args(css, md, html):
    version = subprocess.run(["pandoc", "--version"], capture_output=True, text=True).stdout.split()[1]
    major, minor = (int(x) for x in version.split(".")[:2])
    embed = ["--embed-resources", "--standalone"] if (major, minor) >= (2, 19) else ["--self-contained"]
    return ["pandoc", md, "-f", "markdown", "-t", "html5", *embed, "--toc", "--toc-depth=2",
            "--highlight-style=tango", "--css", css, "--metadata", f"title={TITLE}",
            "--metadata", "lang=en", "--metadata", f"date={stamp()}", "-o", html]


def stamp():
    when = datetime.date.today().isoformat()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=os.path.dirname(__file__)).stdout.strip()
    except OSError:
        commit = ""
    return f"Rendered {when}" + (f" from commit {commit}" if commit else "") + ", with this machine's lab results"


def render(book_dir, out_path, root, results_dir):
    if not shutil.which("pandoc"):
        raise SystemExit("book: pandoc is not installed; run scripts/deps.sh book (as root it installs it)")
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    md = os.path.join(out_dir, "book.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(combined(book_dir, out_dir, root, results_dir))
    css = os.path.join(book_dir, "book.css")
    run = subprocess.run(pandoc_args(css, md, out_path), capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"book: pandoc failed:\n{run.stderr}")
    for line in run.stderr.splitlines():
        print(f"pandoc: {line}")
    return out_path
