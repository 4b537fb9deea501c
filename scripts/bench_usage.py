"""The Usage page's benchmarks: an organization of 1,000 members with 90 days of hourly counts
and a year of daily ones, against the release binary on loopback with SQLite; figures are
ratios to `/healthz` of the same server in the same run. Writes the "## Usage page" section
of docs/BENCHMARKS.md (`scripts/bench usage` runs this alone; `scripts/bench` runs it last).
"""

import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import (BIN, HELPER, MIB, PASSWORD, ROOT, RssSampler, free_port, paced_probe, post, rss_bytes, wait_up,
                   write_section, wrk)

OWNER = "usage-owner@example.com"
MEMBERS = 1_000
HOURLY_DAYS = 90
DAILY_DAYS = 365
SECONDS = 3


def get(url, cookie):
    """One page as a browser asks for it; returns (seconds, bytes)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept": "text/html"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
    return time.perf_counter() - start, len(body)


def measure():
    work = Path(tempfile.mkdtemp(prefix="roster-bench-usage."))
    db = f"sqlite://{work}/bench.db"
    subprocess.run([HELPER, "seed-team", "--database-url", db, "--email", OWNER, "--password", PASSWORD,
                    "--members", str(MEMBERS), "--seats", "5000", "--prefix", "usage"], check=True)
    started = time.perf_counter()
    subprocess.run([HELPER, "seed-usage", "--database-url", db, "--email", OWNER, "--members", str(MEMBERS),
                    "--hours-days", str(HOURLY_DAYS), "--daily-days", str(DAILY_DAYS)], check=True)
    seeded = time.perf_counter() - started
    port = free_port()
    env = {"DATABASE_URL": db, "MAILBOX_DIR": str(work / "mailbox"), "RUST_LOG": "warn",
           "LEPTOS_SITE_ADDR": f"127.0.0.1:{port}", "LEPTOS_SITE_ROOT": str(ROOT / "target/site"),
           "LEPTOS_OUTPUT_NAME": "roster", "LEPTOS_HASH_FILES": "true", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([BIN, "serve"], env=env, cwd=work, stdout=subprocess.DEVNULL,
                              stderr=open(work / "server.log", "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz", 600)
        cookie = post(port, "sign_in", {"email": OWNER, "password": PASSWORD})[2].split(";")[0]
        headers = [f"Cookie: {cookie}", "Accept: text/html"]
        # First, on a server that has served nothing yet: a year of daily counts for 1,000
        # members as CSV, while the server's memory is watched.
        time.sleep(1)
        before = rss_bytes(server.pid)
        sampler = RssSampler(server.pid)
        sampler.start()
        today = time.strftime("%Y-%m-%d", time.gmtime())
        first = time.strftime("%Y-%m-%d", time.gmtime(time.time() - (DAILY_DAYS - 1) * 86400))
        seconds, size = get(f"{base}/usage/report.csv?range=custom&from={first}&to={today}", cookie)
        sampler.stop.set()
        sampler.join()
        growth = max(0, sampler.peak - before)
        wrk(f"{base}/healthz", 2, 16)  # warm-up
        health = wrk(f"{base}/healthz", 5, 32, threads=2)
        health_paced = paced_probe(port, "/healthz", 5, 10)["p99"]
        views = {"last 7 days (168 hourly bars)": "/usage?range=7d",
                 "last 90 days (90 daily bars from hourly counts)": "/usage?range=90d"}
        rows = []
        for label, path in views.items():
            # A view's first read reads the store (each order of the member table is a view of
            # its own, read the same way); later ones, until the next write, are kept figures.
            cold = [get(f"{base}{path}{order}", cookie)[0] * 1000 for order in ("", "&sort=name", "&sort=denied")]
            cached = wrk(f"{base}{path}", SECONDS, 32, threads=2, headers=headers)
            paced = paced_probe(port, path, 5, 10, {"Cookie": cookie, "Accept": "text/html"})["p99"]
            rows.append((label, statistics.median(cold), cached, paced))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"health": health, "health_paced": health_paced, "rows": rows, "csv_seconds": seconds,
            "csv_bytes": size, "csv_growth": growth, "seeded": seeded}


def section(m):
    ok = lambda cond: "met" if cond else "**missed**"
    h = m["health"]["rps"]
    lines = [
        "## Usage page",
        "",
        f"`GET /usage` as the Owner of an organization of {MEMBERS:,} members with {HOURLY_DAYS} days of hourly",
        f"counts (a row per member and hour, and a refused call every seventh hour: "
        f"{MEMBERS * HOURLY_DAYS * 24 * 8 // 7:,} rows) and {DAILY_DAYS} days of daily ones, seeded by",
        f"`roster-bench seed-usage` in {m['seeded']:.0f} s. Baseline: `/healthz` of the same server, "
        f"{h:,.0f} requests/s, p99 {m['health_paced']:.2f} ms at a steady 10 requests/s.",
        "",
        "The figures of a view are read from the store once, then kept until the organization's",
        "counts are written again (the gateway writes every 2 s while calls arrive), a roll-up runs,",
        "or a minute passes. So a page read right after a write pays the first column; a page read",
        "meanwhile pays the second. Pages that ask while a read is under way share it, so while",
        "calls arrive a view is read once per write (every 2 s) whatever the number of open pages;",
        "for the 90-day view of an organization this busy that read takes the first column's time.",
        "",
        "| view | first read (of a view, or after a write) | pages/s (kept figures) | ratio to `/healthz` (target ≥ 0.02) "
        "| p99 at 10 pages/s | ratio to `/healthz`'s (target ≤ 100×) |",
        "|---|---|---|---|---|---|",
    ]
    for label, cold, cached, paced in m["rows"]:
        ratio = cached["rps"] / h
        lines.append(f"| {label} | {cold:,.0f} ms | {cached['rps']:,.0f} | {ratio:.3f}: {ok(ratio >= 0.02)} "
                     f"| {paced:.1f} ms | {paced / m['health_paced']:.1f}×: {ok(paced / m['health_paced'] <= 100)} |")
    lines += [
        "",
        f"The report of a year of daily counts for {MEMBERS:,} members ({m['csv_bytes'] / MIB:.1f} MiB of CSV, "
        f"streamed in {m['csv_seconds']:.1f} s): the server's RSS grew by {m['csv_growth'] / MIB:.1f} MiB "
        f"while it streamed (target ≤ 32 MiB: {ok(m['csv_growth'] <= 32 * MIB)}).",
        "",
    ]
    return "\n".join(lines)


def run():
    text = section(measure())
    write_section("Usage page", text)
    print(text)


if __name__ == "__main__":
    run()
