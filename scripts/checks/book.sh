#!/usr/bin/env bash
# book.sh: the book renders (make book), and stays true to the repository: every chapter has a part,
# every link and image resolves, every quoted excerpt still matches its file. Then it breaks scratch
# copies of the book one way at a time, to show that each of those checks can fail.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! scripts/deps.sh book; then
  echo "book: cannot render the book without pandoc (and python3); install them with the line above"
  echo "book: 0 passed, 1 failed"
  exit 1
fi
if ! make --no-print-directory book; then
  echo "FAILED: make book"
  echo "book: 0 passed, 1 failed"
  exit 1
fi
python3 scripts/book check --html build/book/index.html --self-test
