"""`mlrun report PATH... [--filter KEY=VALUE]... [--sort COLUMN] [--out DIR] [--no-plots]` (mlrun.report)."""

from __future__ import annotations


def main(argv: list[str]) -> None:
    from mlrun.report import main as report_main

    report_main(argv)
