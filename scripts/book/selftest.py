"""selftest: proof that the check can fail. Each case breaks a scratch copy of the book (or of the
code it quotes) in one way, and the check must name that breakage."""
import os
import re
import shutil
import tempfile

from . import check, source


def _first_excerpt(book_dir):
    for part in source.parts(book_dir):
        for block in source.scan(part)[0]:
            if "file" in block.attrs:
                return part, block
    return None, None


def _append(path, text):
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def _edit_line(path, old, new):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    index = next(i for i, l in enumerate(lines) if l.strip() == old.strip())
    lines[index] = lines[index].replace(old.strip(), new.strip())
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def cases(root, book_dir):
    """(name, breakage, the text the check's problems must contain); a breakage gets (tmp, book) and
    returns the problems the check found in the broken copy."""
    part, block = _first_excerpt(book_dir)
    quoted = next(l for l in block.body if l.strip() and l.strip() not in source.ELISION) if block else ""
    chapter_names = check.chapters(root)
    first_part = next(p for p in source.parts(book_dir) if p.chapter_part and any(c[:2] == p.number for c in chapter_names))

    def missing_part(tmp, book):
        os.unlink(os.path.join(book, first_part.name))
        return check.check_parts(book, chapter_names)

    def new_chapter(tmp, book):
        return check.check_parts(book, chapter_names + ["99-next"])

    def broken_link(tmp, book):
        _append(os.path.join(book, first_part.name), "\nSee [the missing file](../common/no-such-file.hpp).\n")
        return check.check_links(book, os.path.join(tmp, "out"))

    def broken_anchor(tmp, book):
        _append(os.path.join(book, first_part.name), f"\nSee [nowhere]({first_part.name}#no-such-heading).\n")
        return check.check_links(book, os.path.join(tmp, "out"))

    def broken_image(tmp, book):
        _append(os.path.join(book, first_part.name), "\n![a figure](figures/no-such-figure.svg)\n")
        return check.check_links(book, os.path.join(tmp, "out"))

    def excerpt_edited(tmp, book):
        _edit_line(os.path.join(book, part.name), quoted, quoted.strip() + "  // edited in the book only")
        return check.check_excerpts(book, root)

    def code_changed(tmp, book):
        overlay = os.path.join(tmp, "changed")
        for folder in ("common", "chapters"):
            shutil.copytree(os.path.join(root, folder), os.path.join(overlay, folder))
        _edit_line(os.path.join(overlay, block.attrs["file"]), quoted, quoted.strip() + "  // the code moved on")
        return check.check_excerpts(book, overlay)

    def unlabelled_cpp(tmp, book):
        _append(os.path.join(book, first_part.name), "\n```cpp\nint main() {}\n```\n")
        return check.check_excerpts(book, root)

    return [
        (f"a chapter whose part is gone ({first_part.name} deleted)", missing_part, "has no part in the book"),
        ("a new chapter folder with no part (chapters/99-next)", new_chapter, "chapters/99-next has no part"),
        ("a link to a file that does not exist", broken_link, "no-such-file.hpp"),
        ("a link to a heading that does not exist", broken_anchor, "no heading 'no-such-heading'"),
        ("an image that does not exist", broken_image, "broken image 'figures/no-such-figure.svg'"),
        (f"an excerpt edited in the book ({part.name}:{block.line})", excerpt_edited, f"{part.name}:{block.line}: excerpt no longer matches"),
        (f"the quoted code changed under the book ({block.attrs['file']})", code_changed, f"{part.name}:{block.line}: excerpt no longer matches"),
        ("a C++ block that names no source", unlabelled_cpp, "neither file="),
    ]


def scratch_repo(root, tmp):
    """A scratch repository: a real copy of book/, and every other top-level entry linked to the
    real one, so the book's links into the code resolve exactly as they do in the repository."""
    repo = os.path.join(tmp, "repo")
    os.makedirs(repo)
    for name in os.listdir(root):
        if name not in ("book", ".git", "build", "results"):
            os.symlink(os.path.join(root, name), os.path.join(repo, name))
    shutil.copytree(os.path.join(root, "book"), os.path.join(repo, "book"))
    return os.path.join(repo, "book")


def run(root, book_dir):
    """Yields (name, ok, detail) per case: ok when the check caught the breakage, and only it:
    the scratch copy, before it is broken, must pass the same check."""
    for name, breakage, expected in cases(root, book_dir):
        with tempfile.TemporaryDirectory(prefix="one-loop-book.") as tmp:
            book = scratch_repo(root, tmp)
            problems = breakage(tmp, book)
            caught = [p for p in problems if expected in p]
            others = [p for p in problems if expected not in p and "has no part" not in p]
            ok = bool(caught) and not others
            detail = caught[0] if ok else f"expected a problem naming {expected!r}; the check said: {problems or 'nothing'}"
            yield name, ok, detail
