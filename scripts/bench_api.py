"""The REST API's benchmark: `GET /api/v1/members` (a page of 50) in an organization of 10,000
members with the Owner's API key, against the release binary on loopback, on SQLite and, when
`BENCH_POSTGRES_URL` names a server, on PostgreSQL; every figure is a ratio to `/healthz` of the
same server in the same run. The per-key limit is on (every call is counted in the database, as
in a deployment) at a level the benchmark does not reach. Writes the "## REST API" section of
docs/BENCHMARKS.md (`scripts/bench api` runs this alone; `scripts/bench` runs it last).
"""

import json
import os
import statistics
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from bench import BIN, HELPER, PASSWORD, ROOT, free_port, gateway_key, wait_up, write_section, wrk

OWNER = "api-owner@example.com"
MEMBERS = 10_000
ROUNDS = 3
SECONDS = 5
DEEP = 100


def call(base, path, key):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def measure(db, label):
    work = Path(tempfile.mkdtemp(prefix="roster-bench-api."))
    subprocess.run([HELPER, "seed-team", "--database-url", db, "--email", OWNER, "--password", PASSWORD,
                    "--members", str(MEMBERS), "--seats", "20000", "--prefix", "apim"], check=True)
    if db.startswith("postgres"):
        # Statistics for the planner, as autovacuum would gather them soon after a bulk load.
        subprocess.run(["psql", db, "-qc", "analyze"], check=True)
    port = free_port()
    env = {"DATABASE_URL": db, "MAILBOX_DIR": str(work / "mailbox"), "RUST_LOG": "warn",
           "LEPTOS_SITE_ADDR": f"127.0.0.1:{port}", "LEPTOS_SITE_ROOT": str(ROOT / "target/site"),
           "LEPTOS_OUTPUT_NAME": "roster", "LEPTOS_HASH_FILES": "true", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "API_CALLS_PER_KEY_PER_MINUTE": "1000000", "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([BIN, "serve"], env=env, cwd=work, stdout=subprocess.DEVNULL,
                              stderr=open(work / "server.log", "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz", 6000)
        key = gateway_key(port, OWNER)
        auth = [f"Authorization: Bearer {key}"]
        first = call(base, "/api/v1/members", key)
        if first["total"] != MEMBERS + 1 or len(first["data"]) != 50:
            raise SystemExit(f"unexpected first page: total {first['total']}, {len(first['data'])} rows")
        # The cursor of page DEEP + 1, walked to as a client pages.
        page, cursor = first, None
        for _ in range(DEEP):
            cursor = page["next_cursor"]
            page = call(base, f"/api/v1/members?cursor={urllib.parse.quote(cursor)}", key)
        paths = {
            "page 1, by name": "/api/v1/members",
            f"page {DEEP + 1}, by cursor": f"/api/v1/members?cursor={urllib.parse.quote(cursor)}",
            "page 1, by join date, newest first": "/api/v1/members?sort=joined&order=desc",
            "page 1, search": "/api/v1/members?search=apim12",
        }
        wrk(f"{base}/healthz", 2, 16)
        for path in paths.values():
            wrk(base + path, 2, 8, headers=auth)
        rounds = []
        for _ in range(ROUNDS):
            r = {"health": wrk(f"{base}/healthz", SECONDS, 32, threads=2)}
            for name, path in paths.items():
                r[name] = wrk(base + path, SECONDS, 16, threads=2, headers=auth)
            rounds.append(r)
        median = lambda name, f: statistics.median(r[name][f] for r in rounds)
        return {
            "label": label,
            "health": median("health", "rps"),
            "health_p99": median("health", "p99"),
            "rows": [(name, median(name, "rps"), median(name, "p99")) for name in paths],
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def section(results):
    ok = lambda cond: "met" if cond else "**missed**"
    lines = [
        "## REST API",
        "",
        f"`GET /api/v1/members` (a page of 50) as the Owner of an organization of {MEMBERS:,} members,",
        "authenticated by their API key on every call (its member from the gateway check's cache,",
        "which every team change empties) and counted against the per-key limit (in memory on SQLite,",
        "one upsert per call on PostgreSQL; set above what the run reaches), then the same service as",
        "the Team page. wrk, 16",
        f"connections, {SECONDS} s, {ROUNDS} rounds interleaved with `/healthz` (32 connections);",
        "medians. Page "
        f"{DEEP + 1} is the one a client reaches by following `next_cursor` {DEEP} times.",
        "",
        "| database | request | calls/s | p99 | ratio to `/healthz` (target ≥ 0.05) |",
        "|---|---|---|---|---|",
    ]
    for m in results:
        lines.append(f"| {m['label']} | `/healthz` | {m['health']:,.0f} | {m['health_p99']:.2f} ms | 1 |")
        for name, rps, p99 in m["rows"]:
            ratio = rps / m["health"]
            lines.append(f"| {m['label']} | members, {name} | {rps:,.0f} | {p99:.1f} ms | {ratio:.3f}: {ok(ratio >= 0.05)} |")
    lines.append("")
    return "\n".join(lines)


def run():
    work = Path(tempfile.mkdtemp(prefix="roster-bench-api-db."))
    results = [measure(f"sqlite://{work}/api.db", "SQLite")]
    postgres = os.environ.get("BENCH_POSTGRES_URL")
    if postgres:
        subprocess.run(["psql", postgres, "-qc", "drop database if exists roster_bench_api"], check=True)
        subprocess.run(["psql", postgres, "-qc", "create database roster_bench_api"], check=True)
        results.append(measure(postgres.rsplit("/", 1)[0] + "/roster_bench_api", "PostgreSQL"))
    text = section(results)
    write_section("REST API", text)
    print(text)


if __name__ == "__main__":
    run()
