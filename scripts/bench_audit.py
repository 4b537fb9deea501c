"""The Audit Log page's benchmark: the page (server-rendered HTML, as a browser first gets it)
of an organization with 100,000 audit rows, its first page and its last (the oldest 50 rows,
reached by the keyset cursor), against the release binary on loopback, on SQLite and, when
`BENCH_POSTGRES_URL` names a server, on PostgreSQL; every figure is a ratio to `/healthz` of
the same server in the same run. Writes the "## Audit log" section of docs/BENCHMARKS.md
(`scripts/bench audit` runs this alone; `scripts/bench` runs it after the REST API).
"""

import os
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import BIN, HELPER, PASSWORD, ROOT, free_port, post, wait_up, write_section, wrk

OWNER = "audit-owner@example.com"
ROWS = 100_000
ROUNDS = 3
SECONDS = 5


def psql_or_sqlite(db, sql):
    """One value read straight from the database."""
    if db.startswith("postgres"):
        out = subprocess.run(["psql", db, "-tAc", sql], check=True, capture_output=True, text=True)
        return out.stdout.strip()
    with sqlite3.connect(db.removeprefix("sqlite://")) as conn:
        return str(conn.execute(sql).fetchone()[0])


def fetch(url, cookie):
    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode()


def measure(db, label):
    work = Path(tempfile.mkdtemp(prefix="roster-bench-audit."))
    subprocess.run([HELPER, "seed-team", "--database-url", db, "--email", OWNER, "--password", PASSWORD,
                    "--members", "10", "--seats", "100", "--prefix", "auditm"], check=True)
    started = time.perf_counter()
    subprocess.run([HELPER, "seed-audit", "--database-url", db, "--email", OWNER, "--rows", str(ROWS)],
                   check=True)
    seeded = time.perf_counter() - started
    if db.startswith("postgres"):
        subprocess.run(["psql", db, "-qc", "analyze"], check=True)
    # The cursor of the last page: the row just newer than the oldest 50.
    org = psql_or_sqlite(db, f"select default_org_id from users where email = '{OWNER}'")
    total = int(psql_or_sqlite(db, f"select count(*) from audit_log where org_id = {org}"))
    last = total - total % 50 if total % 50 else total - 50
    cursor = psql_or_sqlite(
        db, f"select created_at || '.' || id from audit_log where org_id = {org} "
            f"order by created_at desc, id desc limit 1 offset {last - 1}")
    port = free_port()
    env = {"DATABASE_URL": db, "MAILBOX_DIR": str(work / "mailbox"), "RUST_LOG": "warn",
           "LEPTOS_SITE_ADDR": f"127.0.0.1:{port}", "LEPTOS_SITE_ROOT": str(ROOT / "target/site"),
           "LEPTOS_OUTPUT_NAME": "roster", "LEPTOS_HASH_FILES": "true", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([BIN, "serve"], env=env, cwd=work, stdout=subprocess.DEVNULL,
                              stderr=open(work / "server.log", "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz", 6000)
        cookie = post(port, "sign_in", {"email": OWNER, "password": PASSWORD})[2].split(";")[0]
        paths = {"first page": "/audit", "last page": f"/audit?after={cursor}"}
        # Both pages are what they claim: 50 rows on the first, the oldest rows on the last.
        first = fetch(base + paths["first page"], cookie)
        deep = fetch(base + paths["last page"], cookie)
        if first.count('id="audit-row-') != 50 or 'id="audit-older"' not in first:
            raise SystemExit("the first page is not 50 rows with an Older link")
        if 'id="audit-older"' in deep or deep.count('id="audit-row-') == 0:
            raise SystemExit("the last page is not the last")
        headers = [f"Cookie: {cookie}", "Accept: text/html"]
        wrk(f"{base}/healthz", 2, 16)
        for path in paths.values():
            wrk(base + path, 2, 8, headers=headers)
        rounds = []
        for _ in range(ROUNDS):
            r = {"health": wrk(f"{base}/healthz", SECONDS, 32, threads=2)}
            for name, path in paths.items():
                r[name] = wrk(base + path, SECONDS, 8, threads=2, headers=headers)
            rounds.append(r)
        median = lambda name, f: statistics.median(r[name][f] for r in rounds)
        return {
            "label": label,
            "rows": total,
            "seeded": seeded,
            "health": median("health", "rps"),
            "pages": [(name, median(name, "rps"), median(name, "p50"), median(name, "p99")) for name in paths],
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def section(results):
    ok = lambda cond: "met" if cond else "**missed**"
    lines = [
        "## Audit log",
        "",
        f"The Audit Log page (`/audit`, server-rendered, signed in as the Owner) of an organization with",
        f"{ROWS:,} audit rows written through the hash chain by `roster-bench seed-audit`: the first page",
        "(newest 50) and the last (the oldest 50, by the keyset cursor `after=<time>.<id>`). wrk, 8",
        f"connections, {SECONDS} s, {ROUNDS} rounds interleaved with `/healthz` (32 connections); medians.",
        "",
        "| database | request | pages/s | p50 | p99 | ratio to `/healthz` |",
        "|---|---|---|---|---|---|",
    ]
    for m in results:
        lines.append(f"| {m['label']} | `/healthz` | {m['health']:,.0f} | | | 1 |")
        for name, rps, p50, p99 in m["pages"]:
            lines.append(f"| {m['label']} | {name} | {rps:,.0f} | {p50:.1f} ms | {p99:.1f} ms | {rps / m['health']:.3f} |")
    lines += ["", "| database | last page's latency ÷ first page's (p50; target ≤ 2) |", "|---|---|"]
    for m in results:
        (_, _, first, _), (_, _, last, _) = m["pages"]
        lines.append(f"| {m['label']} | {last / first:.2f}: {ok(last / first <= 2)} |")
    lines.append("")
    lines.append("Seeding " + ", ".join(f"{m['label']} {m['seeded']:.0f} s" for m in results) +
                 f" ({ROWS:,} rows, each chained under the head's lock as the server writes them).")
    lines.append("")
    return "\n".join(lines)


def run():
    work = Path(tempfile.mkdtemp(prefix="roster-bench-audit-db."))
    results = [measure(f"sqlite://{work}/audit.db", "SQLite")]
    postgres = os.environ.get("BENCH_POSTGRES_URL")
    if postgres:
        subprocess.run(["psql", postgres, "-qc", "drop database if exists roster_bench_audit"], check=True)
        subprocess.run(["psql", postgres, "-qc", "create database roster_bench_audit"], check=True)
        results.append(measure(postgres.rsplit("/", 1)[0] + "/roster_bench_audit", "PostgreSQL"))
    text = section(results)
    write_section("Audit log", text)
    print(text)


if __name__ == "__main__":
    run()
