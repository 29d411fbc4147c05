"""`make bench`: every benchmark of docs/benchmarks.md, each candidate beside its baseline in the
same run (interleaved rounds, median), against PostgreSQL. Bench-only code: never imported by the
application."""
