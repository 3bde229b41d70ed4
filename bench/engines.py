"""TPC-H runners of the benchmark suite for the engines driven from Python: a PostgreSQL
protocol server through psycopg 3 with binary cursors (lakeport, PostgreSQL 15), and DuckDB
in-process over the same files.

Each runner runs every query once untimed, then `runs` times, and returns one
`Run(query, round, seconds, checksum)` per timed run. Checksums follow the rules of
`bench/src/checksum.rs`, so that they compare with the Rust runners' values.
"""

import datetime
import decimal
import time
from dataclasses import dataclass
from pathlib import Path

TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = (1 << 64) - 1


@dataclass
class Run:
    query: str
    round: int
    seconds: float
    checksum: str


def canonical(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, decimal.Decimal)):
        text = f"{float(value):.2f}"
        return "0.00" if text == "-0.00" else text
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def checksum(rows):
    total = 0
    for row in rows:
        hashed = FNV_OFFSET
        for value in row:
            for byte in canonical(value).encode() + b"\x1f":
                hashed = ((hashed ^ byte) * FNV_PRIME) & MASK
        total = (total + hashed) & MASK
    return f"{len(rows)}:{total:016x}"


def read_queries(directory):
    return [(path.stem, path.read_text()) for path in sorted(Path(directory).glob("q*.sql"))]


def time_queries(queries, runs, execute, on_failure=None):
    """Runs each query once, then `runs` timed times; `execute(sql)` returns all rows. With
    `on_failure(name, error)`, a query failing its untimed run is reported and skipped."""
    results = []
    for name, sql in queries:
        try:
            execute(sql)
        except Exception as error:  # a reference engine that cannot run a query
            if on_failure is None:
                raise
            on_failure(name, error)
            continue
        for round_number in range(1, runs + 1):
            started = time.perf_counter()
            rows = execute(sql)
            seconds = time.perf_counter() - started
            results.append(Run(name, round_number, seconds, checksum(rows)))
    return results


def psycopg_runs(conninfo, queries, runs, statement_timeout_ms=None, on_failure=None):
    """The queries through psycopg 3 binary cursors (extended protocol, binary results)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as connection:
        if statement_timeout_ms:
            connection.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")

        def execute(sql):
            with connection.cursor(binary=True) as cursor:
                cursor.execute(sql)
                return cursor.fetchall()

        return time_queries(queries, runs, execute, on_failure)


def duckdb_runs(table_dirs, queries, runs, threads, csv_types_from=None):
    """The queries on DuckDB in-process: views over `table_dirs[table]/*.parquet`, or over
    `*.csv` files read with the column types of the Parquet tables in `csv_types_from`."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"SET threads = {int(threads)}")
    for table in TABLES:
        directory = table_dirs[table]
        if csv_types_from is None:
            source = f"read_parquet('{directory}/*.parquet')"
        else:
            described = connection.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{csv_types_from[table]}/*.parquet')"
            ).fetchall()
            columns = ", ".join(f"'{name}': '{kind}'" for name, kind, *_ in described)
            source = f"read_csv('{directory}/*.csv', header = true, columns = {{{columns}}})"
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM {source}")

    def execute(sql):
        return connection.execute(sql).fetchall()

    return time_queries(queries, runs, execute)


if __name__ == "__main__":
    # The checksum rules, checked against values the Rust runner computes for the same rows.
    assert canonical(decimal.Decimal("17954.550000")) == "17954.55"
    assert canonical(-0.001) == "0.00" and canonical(5) == "5.00"
    assert canonical(datetime.date(1998, 9, 2)) == "1998-09-02"
    assert checksum([(1, "x"), (2, "y")]) == checksum([(2, "y"), (1, "x")])
    assert checksum([(1, "x")]) != checksum([(1, "y")])
    # The same value is asserted by checksum.rs's agrees_with_the_python_runners.
    assert checksum([("lineitem", decimal.Decimal("17954.55"), None)]) == "1:976ba4b31a7ee7fe"
    print("engines.py: checksum rules hold")
