"""check: is the book still true to the repository?

  parts     every chapters/NN-* folder has a part book/NN-*.md
  links     every link and image in the book points at a file, part or heading that exists
  excerpts  every ```{.cpp file="..."} block is made of that file's lines, in order, runs of
            adjacent lines separated only by an explicit "// ..."; every C++ block is either
            such an excerpt or marked .sketch
  html      the rendered page: every #anchor has its target, every image is embedded

Each function returns a list of problems as "book/NN-x.md:LINE: what"; empty means it holds."""
import glob
import html.parser
import os

from . import source


def chapters(root):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "chapters", "[0-9][0-9]-*")) if os.path.isdir(p))


def check_parts(book_dir, chapter_names):
    have = {p.number for p in source.parts(book_dir) if p.chapter_part}
    return [f"chapters/{ch} has no part in the book (expected book/{ch[:2]}-*.md)"
            for ch in chapter_names if ch[:2] not in have]


def where(part, line):
    return f"book/{part.name}:{line}"


def check_links(book_dir, out_dir):
    parts = source.parts(book_dir)
    by_name = {p.name: p for p in parts}
    problems = []
    for part in parts:
        for line, image, target in source.links(part):
            r = source.resolve(target, part, by_name, book_dir, out_dir)
            if r.kind == "broken":
                problems.append(f"{where(part, line)}: broken {'image' if image else 'link'} '{target}': {r.why}")
            elif image and r.kind != "file":
                problems.append(f"{where(part, line)}: image '{target}' is not a file in the repository")
    return problems


def dedent(lines):
    indents = [len(l) - len(l.lstrip()) for l in lines if l.strip()]
    cut = min(indents) if indents else 0
    return [l[cut:].rstrip() for l in lines]


def runs(body):
    """The excerpt split at its elision lines into runs of adjacent lines, each dedented."""
    groups, current = [], []
    for line in body:
        if line.strip() in source.ELISION:
            groups.append(current)
            current = []
        else:
            current.append(line)
    groups.append(current)
    trimmed = []
    for g in groups:
        while g and not g[0].strip():
            g = g[1:]
        while g and not g[-1].strip():
            g = g[:-1]
        if g:
            trimmed.append(dedent(g))
    return trimmed


def find_run(run, lines, start):
    """The first index >= start where `run` sits in `lines`, every line under one common indent."""
    own = len(run[0]) - len(run[0].lstrip())  # the run's first line may be indented under a later one ("}")
    for i in range(start, len(lines) - len(run) + 1):
        first = lines[i]
        cut = len(first) - len(first.lstrip()) - own
        if cut < 0:
            continue
        indent = first[:cut]
        if all((lines[i + k].rstrip() == (indent + r if r else "")) for k, r in enumerate(run)):
            return i
    return -1


def check_excerpt(block, root):
    path = os.path.join(root, block.attrs["file"])
    if not os.path.isfile(path):
        return f"excerpt from '{block.attrs['file']}', which does not exist"
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    at = 0
    for number, run in enumerate(runs(block.body), 1):
        found = find_run(run, lines, at)
        if found < 0:
            first = next(l for l in run if l.strip())
            return (f"excerpt no longer matches {block.attrs['file']}: run {number} (starting '{first.strip()[:60]}') "
                    f"is not in the file{' after the previous run' if at else ''}")
        at = found + len(run)
    return None


def check_excerpts(book_dir, root):
    problems = []
    for part in source.parts(book_dir):
        for block in source.scan(part)[0]:
            if "file" in block.attrs:
                why = check_excerpt(block, root)
                if why:
                    problems.append(f"{where(part, block.line)}: {why}")
            elif block.language in source.CPP_LANGS and "sketch" not in block.classes:
                problems.append(f"{where(part, block.line)}: C++ block with neither file=\"...\" nor .sketch: "
                                "say where it comes from, or that it comes from nowhere")
    return problems


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.anchors, self.images = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.anchors.append(a["href"][1:])
        if tag == "img":
            self.images.append(a.get("src") or "")


def check_html(path):
    if not os.path.exists(path):
        return [f"{path} was not rendered"]
    page = _Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    problems = [f"{path}: link to #{a}, which is nowhere on the page" for a in sorted(set(page.anchors)) if a not in page.ids]
    problems += [f"{path}: image not embedded: {src[:80]}" for src in page.images if not src.startswith("data:")]
    return problems
