"""The book: render it, or check it against the repository.

  python3 scripts/book render [--out build/book/index.html] [--results results]
  python3 scripts/book check [--html build/book/index.html] [--self-test]

check prints one line per check and "book: N passed, M failed" (the form scripts/test.sh counts).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from book import check, render, selftest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOK = os.path.join(ROOT, "book")


def cmd_render(a):
    out = render.render(BOOK, a.out, ROOT, a.results)
    print(f"book: wrote {os.path.relpath(out, ROOT)}")


def cmd_check(a):
    out_dir = os.path.dirname(os.path.abspath(a.html)) if a.html else os.path.join(ROOT, "build", "book")
    checks = [
        ("every chapter has a part", lambda: check.check_parts(BOOK, check.chapters(ROOT))),
        ("links and images resolve", lambda: check.check_links(BOOK, out_dir)),
        ("excerpts match their files", lambda: check.check_excerpts(BOOK, ROOT)),
    ]
    if a.html:
        checks.append(("the rendered page: anchors and embedded images", lambda: check.check_html(a.html)))
    passed = failed = 0
    for name, run in checks:
        problems = run()
        print(("ok: " if not problems else "FAILED: ") + name)
        for p in problems:
            print(f"    {p}")
        passed, failed = passed + (not problems), failed + bool(problems)
    if a.self_test:
        for name, ok, detail in selftest.run(ROOT, BOOK):
            print(("ok: the check fails on " if ok else "FAILED: the check misses ") + name)
            print(f"    {detail}")
            passed, failed = passed + ok, failed + (not ok)
    print(f"book: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(prog="book", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render")
    r.add_argument("--out", default=os.path.join(ROOT, "build", "book", "index.html"))
    r.add_argument("--results", default=os.environ.get("LAB_RESULTS") or os.path.join(ROOT, "results"))
    r.set_defaults(run=cmd_render)
    c = sub.add_parser("check")
    c.add_argument("--html", help="also check this rendered page")
    c.add_argument("--self-test", action="store_true", help="also break scratch copies and expect the check to fail")
    c.set_defaults(run=cmd_check)
    a = p.parse_args()
    sys.exit(a.run(a) or 0)


main()
