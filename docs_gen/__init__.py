"""Docs pages generated from the code: `python -m docs_gen` writes them, `--check` says whether they are current."""
