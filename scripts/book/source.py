"""source: reading the book's Markdown the way both the renderer and the check need it.

A part is book/NN-slug.md (the part of chapter NN) or book/NNx-slug.md (an interlude placed after
part NN); the file names sort in reading order. book/answers.md is the appendix.

In a part, these are the only non-Markdown conventions (book/README.md explains why):
  ```{.cpp file="common/sys.cpp"}   an excerpt: its lines must be lines of that file, in order;
                                     a line "// ..." (or "# ...", "...") marks lines left out
  ```{.cpp .sketch}                  C++ that is not from the repository, labelled as such
  ::: {.results chapter="05-epoll" plots="signature" columns="label,rps"}
  :::                                the lab's latest results (table, plots, machine), or a box
  ::: {.tour}
  :::                                one row per chapter, from every lab's summary
"""
import os
import re

PART_NAME = re.compile(r"^(\d\d)([a-z]?)-[a-z0-9-]+\.md$")
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*?)\s*$")
DIRECTIVE = re.compile(r"^:::\s*\{\.(results|tour)\b([^}]*)\}\s*$")
ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(\{#([A-Za-z0-9_-]+)\})?\s*$")
# [text](target) and ![alt](target "title"); inline code is blanked out before this runs.
LINK = re.compile(r'(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
ELISION = {"// ...", "# ...", "..."}
CPP_LANGS = {"cpp", "c++", "cxx", "c"}


class Part:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.stem = self.name[:-3]
        m = PART_NAME.match(self.name)
        self.number = m.group(1) if m else None
        self.chapter_part = bool(m and not m.group(2))  # NN-slug.md, not an interlude NNx-slug.md
        with open(path, encoding="utf-8") as f:
            self.lines = f.read().split("\n")


def parts(book_dir):
    """The parts in reading order, then the answers."""
    names = sorted(n for n in os.listdir(book_dir) if PART_NAME.match(n))
    found = [Part(os.path.join(book_dir, n)) for n in names]
    answers = os.path.join(book_dir, "answers.md")
    if os.path.exists(answers):
        found.append(Part(answers))
    return found


def attributes(text):
    """'{.cpp .sketch file="x"}' or 'cpp' -> (classes, {key: value})."""
    text = text.strip()
    if not text.startswith("{"):
        return ([text] if text else []), {}
    classes = re.findall(r"\.([A-Za-z0-9_+-]+)", ATTRIBUTE.sub("", text))
    return classes, dict(ATTRIBUTE.findall(text))


class Block:
    """A fenced code block: its opening line number (1-based), classes, attributes and lines."""

    def __init__(self, line, classes, attrs, body):
        self.line, self.classes, self.attrs, self.body = line, classes, attrs, body

    @property
    def language(self):
        return self.classes[0] if self.classes else ""


def scan(part):
    """Walks a part once. Returns (blocks, prose), prose being [(line number, text)] outside code
    blocks with inline code blanked, so links are found only where Markdown would see them."""
    blocks, prose = [], []
    fence, start, classes, attrs, body = None, 0, [], {}, []
    for number, line in enumerate(part.lines, 1):
        if fence:
            stripped = line.strip()
            if stripped.startswith(fence[0]) and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                blocks.append(Block(start, classes, attrs, body))
                fence = None
            else:
                body.append(line)
            continue
        m = FENCE.match(line.strip()) if not line.startswith("    ") else None
        if m:
            fence, start, body = m.group(1), number, []
            classes, attrs = attributes(m.group(2))
            continue
        prose.append((number, re.sub(r"`[^`]*`", lambda c: " " * len(c.group(0)), line)))
    return blocks, prose


def links(part):
    """[(line, is_image, target)] for every inline link and image in the part's prose."""
    _, prose = scan(part)
    return [(n, bang == "!", target) for n, text in prose for bang, _, target in LINK.findall(text)]


def slug(text):
    """The id of a heading without an explicit one: lower case, words joined by hyphens."""
    text = re.sub(r"[`*_]", "", text).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^a-z0-9 -]", "", text)
    return re.sub(r"[ -]+", "-", text).strip("-") or "section"


def section_prefix(part):
    return f"sec-{part.stem}-"


def headings(part):
    """[(line, level, title, id)]: explicit ids stay as written; the others become sec-STEM-SLUG,
    numbered -2, -3 when a part repeats a title. Ids are unique across the whole book this way,
    and begin with a letter, as pandoc wants of an id written in Markdown."""
    _, prose = scan(part)
    found, seen = [], {}
    for number, text in prose:
        m = HEADING.match(part.lines[number - 1])
        if not m:
            continue
        level, title, explicit = len(m.group(1)), m.group(2), m.group(4)
        if explicit:
            ident = explicit
        else:
            base = f"{section_prefix(part)}{slug(title)}"
            seen[base] = seen.get(base, 0) + 1
            ident = base if seen[base] == 1 else f"{base}-{seen[base]}"
        found.append((number, level, title, ident))
    return found


def anchor_map(part):
    """What a link '#frag' into this part means: explicit ids and slugs both map to the final id."""
    result = {}
    for _, _, title, ident in headings(part):
        result[ident] = ident
        prefix = section_prefix(part)
        if ident.startswith(prefix):
            result.setdefault(ident[len(prefix):], ident)
    return result


def part_id(part):
    """The id of a part's first heading: the link target for 'NN-slug.md' without a fragment."""
    found = headings(part)
    return found[0][3] if found else part.stem


class Resolved:
    """Where a link in the book goes: kind is external, part, file or broken."""

    def __init__(self, kind, href, why=""):
        self.kind, self.href, self.why = kind, href, why


def resolve(target, part, by_name, book_dir, out_dir):
    """Resolves a link or image target written in `part`. `by_name`: part file name -> Part.
    Links to other parts become anchors of the one HTML page; links to repository files become
    paths relative to the HTML file's folder `out_dir`."""
    if re.match(r"^[a-z]+:", target):
        return Resolved("external", target)
    path, _, fragment = target.partition("#")
    if not path:
        return _anchor(part, fragment, target)
    if path in by_name:
        other = by_name[path]
        return _anchor(other, fragment, target) if fragment else Resolved("part", "#" + part_id(other))
    full = os.path.normpath(os.path.join(book_dir, path))
    if not os.path.exists(full):
        return Resolved("broken", target, f"no such file: {os.path.relpath(full, os.path.dirname(book_dir))}")
    href = os.path.relpath(full, out_dir) + (("#" + fragment) if fragment else "")
    return Resolved("file", href)


def _anchor(part, fragment, target):
    ident = anchor_map(part).get(fragment)
    if not ident:
        return Resolved("broken", target, f"no heading '{fragment}' in {part.name}")
    return Resolved("part", "#" + ident)
