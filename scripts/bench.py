"""Runs Roster's benchmarks and writes docs/BENCHMARKS.md.

Each scenario runs in 3 interleaved rounds against the same release binary; every figure is the
median of the rounds, reported as a ratio to a baseline measured in the same run. Traffic goes to
127.0.0.1 only; every wrk run is bounded in time; the server is stopped by its PID.
"""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import json
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target/release/roster"
HELPER = ROOT / "target/release/roster-bench"
ROUNDS = 3
SIGN_IN_ACCOUNTS = 64
TEAM_OWNER = "team-owner@example.com"
TEAM_MEMBERS = 10_000
BIG_OWNER = "big-owner@example.com"
BIG_MEMBERS = 100_000
TEAM_SECONDS = 3
LIVE_PAGES = 200
# The reload budget the server spreads open pages over, read from where it is set.
RELOADS_PER_SECOND = int(re.search(r"RELOADS_PER_SECOND: u64 = (\d+);",
                                   (ROOT / "server/src/events/feeds.rs").read_text()).group(1))
LIVE_CHANGES = 100
BULK = 1_000
MAILDEV = ROOT / "end2end/node_modules/.bin/maildev"
PASSWORD = "correct horse battery"
MIB = 1024 * 1024
COUNTED = 1_000_000
MADE_UP_KEYS = 50_000
ARGON2_MIB = 19


# Figures measured before issue 11's changes, on the same kind of machine (2 cores), by this
# script at commit 3258382, for comparison; they are not measured again.
HISTORY = """### Before (commit 3258382, same machine)

| figure | before |
|---|---|
| Team page, page 1 by name, 10,000 members | 59 pages/s, 0.002 of `/healthz`; each render read and sorted every row of the organization |
| SQL statements per Team page render | 18 (the page's data was read twice while rendering) |
| server RSS, idle after warm-up | 105.9 MiB (2 × 19 MiB of argon2 blocks held from start) |
| server RSS, highest under the benchmarks' load | 119.4 MiB (then 194.5 MiB midway through this issue, with argon2's blocks allocated per hash under glibc's allocator) |
| `/pkg/roster.wasm` | 2.0 MB sent uncompressed, no `Cache-Control`, same name in every release |
| live updates | every change made every open Team page read the list again at once |
"""


def write_section(title, text):
    """Puts the section `## title` in docs/BENCHMARKS.md in place of the one there (or at its end)."""
    out = ROOT / "docs/BENCHMARKS.md"
    doc = out.read_text() if out.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"## {re.escape(title)}\n.*?(?=\n## |\Z)", re.S)
    doc = pattern.sub(lambda _: text.rstrip("\n") + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + text
    out.write_text(doc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url, tries):
    """Waits until `url` answers, trying every 0.1 s at most `tries` times."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class RssSampler(threading.Thread):
    """Records the highest RSS of a process while running."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.05)


def to_ms(value):
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def wrk(url, seconds, connections, threads=1, script=None, headers=(), refusals=False):
    """Runs wrk; fails on a socket error, and on a non-2xx answer unless `refusals` (then
    the count of timeouts is returned instead of failing on them)."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    rps, p99 = re.search(r"Requests/sec:\s+([\d.]+)", out), re.search(r"99%\s+(\S+)", out)
    if not rps or not p99:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    rps, p99 = float(rps.group(1)), to_ms(p99.group(1))
    p50 = to_ms(re.search(r"50%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    timeouts = re.search(r"timeout (\d+)", out)
    if refusals:
        if errors and not timeouts:
            raise SystemExit(f"benchmark requests failed:\n{out}")
        return {"rps": rps, "p50": p50, "p99": p99, "timeouts": int(timeouts.group(1)) if timeouts else 0}
    if bad or errors:
        raise SystemExit(f"benchmark requests failed:\n{out}")
    return {"rps": rps, "p50": p50, "p99": p99}


def paced_probe(port, path, seconds, per_second, headers=None):
    """Requests `path` at a steady rate on one keep-alive connection, as a load balancer's health
    check (or one person clicking around) does; returns the p99 latency in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies = []
    interval = 1 / per_second
    next_at = time.perf_counter()
    end = next_at + seconds
    while next_at < end:
        time.sleep(max(0, next_at - time.perf_counter()))
        start = time.perf_counter()
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status} during the storm")
        latencies.append((time.perf_counter() - start) * 1000)
        next_at += interval
    conn.close()
    latencies.sort()
    return {"p99": latencies[int(len(latencies) * 0.99) - 1], "count": len(latencies)}


def post(port, endpoint, form, cookie=None):
    """Calls a server function; returns (body, seconds taken, Set-Cookie)."""
    body = urllib.parse.urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}
    if cookie:
        headers["Cookie"] = cookie
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    conn.request("POST", f"/api/{endpoint}", body, headers)
    response = conn.getresponse()
    data = response.read()
    took = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        raise SystemExit(f"{endpoint} answered {response.status}: {data[:300]!r}")
    return data, took, response.getheader("Set-Cookie")


def team_members(port, cookie, page=1):
    """One page of the team list by name, as the Team page asks for it."""
    form = {"search": "", "role": "", "status": "", "sort": "name", "descending": "false",
            "page": str(page), "cursor": ""}
    return json.loads(post(port, "team_members", form, cookie)[0])


def team_variants(port, cookie, prefix):
    """The Team page addresses measured, as (label, path): "Next" carries the last row of
    page 199 to page 200, as the browser does."""
    last = team_members(port, cookie, page=199)["rows"][-1]
    ref = ("m" if last["kind"] == "Member" else "i") + str(last["id"])
    return [
        ("page 1, by name", "/team"),
        ("page 200, after Next", f"/team?page=200&at=a.{ref}"),
        ("page 200, typed address (no cursor)", "/team?page=200"),
        ("page 1, by email", "/team?sort=email&order=asc"),
        ("page 1, by role", "/team?sort=role&order=asc"),
        ("page 1, by status", "/team?sort=status&order=asc"),
        ("page 1, by date joined", "/team?sort=date&order=desc"),
        ("search matching 1 in 8 (\"lovelace\")", "/team?q=lovelace"),
        ("search matching one member (\"…00042@\")", f"/team?q={prefix}00042%40"),
    ]


def team_matrix(base, variants):
    """wrk on each Team page address of each organization: {(org, label): {rps, p99}}."""
    out = {}
    for org, (cookie, paths) in variants.items():
        for label, path in paths:
            out[(org, label)] = wrk(f"{base}{path}", TEAM_SECONDS, 32, threads=2,
                                    headers=[f"Cookie: {cookie}", "Accept: text/html"])
    return out


def sse_page(port, cookie, version, refetches, stop, ready, errors):
    """One open Team page: holds /events, and when told of a version newer than its own, waits
    a random moment (as the browser does) and reads the list again. `refetches` gets the
    version each reload showed."""
    try:
        open_page(port, cookie, version, refetches, stop, ready)
    except BaseException as e:  # kept and raised by the caller: a thread dies silently
        errors.append(repr(e))
    finally:
        ready.release()


def open_page(port, cookie, version, refetches, stop, ready):
    import random
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/events", headers={"Cookie": cookie, "Accept": "text/event-stream"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"/events answered {response.status}")
    ready.release()
    mine = version
    # hyper sends each event as one chunk; the chunk-size lines never start with "data: ".
    while not stop.is_set():
        try:
            line = response.fp.readline()
        except (TimeoutError, OSError):
            break
        if not line:
            break
        line = line.decode().strip()
        if not line.startswith("data: "):
            continue
        # "<version> <spread in ms>": reload when behind, after a random part of the spread.
        version, spread = line[6:].split(" ")
        newer = version == "resync" or int(version) > mine
        if newer:
            time.sleep(random.random() * max(0.4, int(spread) / 1000))
            mine = team_members(port, cookie)["version"]
            refetches.append(mine)
    conn.close()


def live_burst(port, cookie):
    """LIVE_PAGES open Team pages of one organization; LIVE_CHANGES changes in about a second;
    the refetches the pages make and the p99 of /healthz before and during the burst."""
    version = team_members(port, cookie)["version"]
    stop, ready, errors = threading.Event(), threading.Semaphore(0), []
    counts = [[] for _ in range(LIVE_PAGES)]
    pages = [threading.Thread(target=sse_page, args=(port, cookie, version, counts[i], stop, ready, errors),
                              daemon=True)
             for i in range(LIVE_PAGES)]
    for t in pages:
        t.start()
    for _ in pages:
        if not ready.acquire(timeout=60):
            raise SystemExit("the open pages did not connect within a minute")
    if errors:
        raise SystemExit(f"an open page failed: {errors[0]}")
    quiet = paced_probe(port, "/healthz", 3, 100)["p99"]
    burst_probe = {}
    probe = threading.Thread(target=lambda: burst_probe.update(paced_probe(port, "/healthz", 4, 100)))
    probe.start()
    start = time.perf_counter()
    tag = int(time.time())
    for i in range(LIVE_CHANGES):
        next_at = start + i / LIVE_CHANGES
        time.sleep(max(0, next_at - time.perf_counter()))
        post(port, "invite_user", {"first_name": "Live", "last_name": str(i), "email": f"live{tag}-{i}@example.com",
                                   "role": "member"}, cookie)
    burst_seconds = time.perf_counter() - start
    newest = team_members(port, cookie)["version"]
    probe.join()
    # Every page catches up with the last change (or the benchmark gives up after a minute).
    while time.perf_counter() - start < 60 and not all(c and c[-1] >= newest for c in counts):
        time.sleep(0.05)
    caught_up = time.perf_counter() - start - burst_seconds
    stop.set()
    if errors or "p99" not in burst_probe:
        raise SystemExit(f"the live-update burst failed: {errors[:1] or 'the probe died'}")
    if not all(c and c[-1] >= newest for c in counts):
        raise SystemExit("an open page never showed the last change")
    refetches = [len(c) for c in counts]
    return {"quiet": quiet, "burst": burst_probe["p99"], "seconds": burst_seconds, "caught_up": caught_up,
            "max": max(refetches), "mean": sum(refetches) / len(refetches)}


def count_queries(port, log, cookie):
    """The SQL statements one Team page render runs, counted in the server's debug log."""
    before = log.read_text().count("sqlx::query")
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/team",
                                                  headers={"Cookie": cookie}), timeout=30).read()
    time.sleep(0.5)
    lines = log.read_text().split("\n")
    statements = [l for l in lines if "sqlx::query" in l]
    # The outbox and usage writers poll on their own; only the page's statements count.
    mine = [l for l in statements[before:] if "outbox" not in l and "gateway_usage" not in l]
    return len(mine)


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def start_nginx(work, roster_port):
    """nginx with the published configuration (scripts/lib.sh's gateway_config) in front of an
    upstream that nginx itself answers, plus a server proxying to that upstream without the
    check; returns (process, checked port, straight port)."""
    folder = work / "nginx"
    folder.mkdir()
    api, checked, straight = free_port(), free_port(), free_port()
    subprocess.run(["bash", "-c", 'source "$0" && gateway_config "$1" "$2" "$3" "$4"', str(ROOT / "scripts/lib.sh"),
                    str(folder), str(roster_port), str(api), str(checked)], check=True)
    with open(folder / "site.conf", "a") as site:
        site.write(f"""
server {{ listen 127.0.0.1:{api}; location / {{ return 200 "ok\\n"; }} }}
server {{ listen 127.0.0.1:{straight}; proxy_http_version 1.1; proxy_set_header Connection "";
         location / {{ proxy_pass http://api; }} }}
""")
    nginx = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"
    process = subprocess.Popen([nginx, "-p", str(folder), "-c", str(folder / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for p in (checked, straight):
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", p), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
    return process, checked, straight


def gateway_key(port, email):
    """Signs in as `email` and copies their own API key, as Profile's "Copy API Key" does."""
    cookie = post(port, "sign_in", {"email": email, "password": PASSWORD})[2].split(";")[0]
    user_id = json.loads(post(port, "own_api_key", {}, cookie)[0])["user_id"]
    return json.loads(post(port, "copy_api_key", {"user_id": user_id}, cookie)[0])


def captured(mail_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{mail_port}/api/email", timeout=30) as r:
        return len(json.load(r))


def clear_captured(mail_port):
    req = urllib.request.Request(f"http://127.0.0.1:{mail_port}/api/email/all", method="DELETE")
    urllib.request.urlopen(req, timeout=30).read()


def bulk_round(port, mail_port, cookie, tag):
    """One invitation alone (median of 10), then 1,000 in one Bulk Invite: how long the request
    takes and how long until every email reached the SMTP capture server."""
    clear_captured(mail_port)
    singles = []
    for i in range(10):
        form = {"first_name": "Solo", "last_name": "Invitee", "email": f"solo{i}.{tag}@example.com", "role": "member"}
        singles.append(post(port, "invite_user", form, cookie)[1])
    deadline = time.time() + 60
    while captured(mail_port) < 10 and time.time() < deadline:
        time.sleep(0.1)
    clear_captured(mail_port)
    addresses = "\n".join(f"bulk{i}.{tag}@example.com" for i in range(BULK))
    start = time.perf_counter()
    data, took, _ = post(port, "bulk_invite", {"addresses": addresses, "role": "member"}, cookie)
    invited = sum(1 for line in json.loads(data) if line["outcome"] == "Invited")
    if invited != BULK:
        raise SystemExit(f"bulk invite invited {invited} of {BULK}")
    while True:
        n = captured(mail_port)
        if n >= BULK:
            break
        if time.perf_counter() - start > 120:
            raise SystemExit(f"only {n} of {BULK} emails arrived in 120 s")
        time.sleep(0.25)
    delivered = time.perf_counter() - start
    return {"single": statistics.median(singles), "request": took, "delivered": delivered}


def main():
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="roster-bench."))
    port = free_port()
    db = f"sqlite://{work}/bench.db"
    # The storm signs many accounts in: one account takes at most 5 checks at a time (the
    # lockout counts each attempt before hashing it), which 16 connections would exceed.
    for n in range(SIGN_IN_ACCOUNTS):
        subprocess.run([HELPER, "seed", "--database-url", db, "--email", f"bench{n}@example.com",
                        "--password", PASSWORD], check=True)
    subprocess.run([HELPER, "seed-team", "--database-url", db, "--email", TEAM_OWNER, "--password", PASSWORD,
                    "--members", str(TEAM_MEMBERS), "--seats", "20000"], check=True)
    subprocess.run([HELPER, "seed-team", "--database-url", db, "--email", BIG_OWNER, "--password", PASSWORD,
                    "--members", str(BIG_MEMBERS), "--seats", "200000", "--prefix", "big"], check=True)
    smtp_port, mail_port = free_port(), free_port()
    # Its own mail folder: maildev's default one is shared by every run on the machine.
    maildev = subprocess.Popen([MAILDEV, "--smtp", str(smtp_port), "--web", str(mail_port), "--ip", "127.0.0.1",
                                "--mail-directory", str(work / "mail"), "--silent"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    verify_ms = float(subprocess.run([HELPER, "argon2"], capture_output=True, text=True, check=True).stdout)
    ideal_rate = cores * 1000 / verify_ms

    lua = work / "sign_in.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        'wrk.headers["Sec-Fetch-Site"] = "same-origin"\n'
        # Each thread walks the accounts in turn from a random start, so no account has more
        # than a couple of sign-ins in flight (one account takes at most 5 at a time).
        f'local n = math.random(0, {SIGN_IN_ACCOUNTS - 1})\n'
        'request = function()\n'
        f'  n = (n + 1) % {SIGN_IN_ACCOUNTS}\n'
        f'  return wrk.format(nil, nil, nil, "email=bench" .. n .. "%40example.com&password={PASSWORD.replace(" ", "+")}")\n'
        'end\n'
    )
    env = dict(os.environ, DATABASE_URL=db, SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", RUST_LOG="warn",
               LEPTOS_SITE_ADDR=f"127.0.0.1:{port}", LEPTOS_SITE_ROOT=str(ROOT / "target/site"),
               LEPTOS_OUTPUT_NAME="roster", LEPTOS_HASH_FILES="true", PUBLIC_URL=f"http://127.0.0.1:{port}",
               # The sign-in storm measures argon2 throughput from one address, not its limit.
               PASSWORD_CHECKS_PER_CLIENT_PER_MINUTE="100000")
    env.pop("MAILBOX_DIR", None)
    server = subprocess.Popen([BIN, "serve"], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        # The first start issues an API key to each of the 110,000 seeded members.
        wait_up(f"{base}/healthz", 6000)
        wait_up(f"http://127.0.0.1:{mail_port}/api/email", 100)
        cookie = post(port, "sign_in", {"email": TEAM_OWNER, "password": PASSWORD})[2].split(";")[0]
        team_headers = [f"Cookie: {cookie}", "Accept: text/html"]
        big_cookie = post(port, "sign_in", {"email": BIG_OWNER, "password": PASSWORD})[2].split(";")[0]
        variants = {TEAM_MEMBERS: (cookie, team_variants(port, cookie, "member")),
                    BIG_MEMBERS: (big_cookie, team_variants(port, big_cookie, "big"))}
        wrk(f"{base}/healthz", 2, 16)  # warm-up
        wrk(f"{base}/team", 2, 8, headers=team_headers)
        time.sleep(1)
        idle_rss = rss_bytes(server.pid)
        weight = json.loads(subprocess.run(["node", str(ROOT / "scripts/page-weight.mjs"), f"{base}/team", cookie],
                                           capture_output=True, text=True, check=True).stdout)
        # The gateway: a valid key (warm in the cache), made-up keys, and nginx in front.
        key = gateway_key(port, "bench0@example.com")
        check_headers = [f"Authorization: Bearer {key}", "X-Roster-Feature: products", "X-Original-Method: GET"]
        keys_file = work / "made-up-keys.txt"
        keys_file.write_text(subprocess.run([HELPER, "keys", "--count", str(MADE_UP_KEYS)], capture_output=True,
                                            text=True, check=True).stdout)
        storm_lua = work / "storm.lua"
        storm_lua.write_text(
            'local keys = {}\n'
            f'for line in io.lines("{keys_file}") do keys[#keys + 1] = line end\n'
            'local n = 0\n'
            'request = function()\n'
            '  n = n + 1\n'
            '  local key = keys[(n % #keys) + 1]\n'
            '  if n % 4 == 0 then key = "rst_not_a_key_" .. n end\n'
            '  return wrk.format("GET", "/gateway/check", {["Authorization"] = "Bearer " .. key,\n'
            '    ["X-Roster-Feature"] = "products", ["X-Original-Method"] = "GET"})\n'
            'end\n'
        )
        nginx, checked_port, straight_port = start_nginx(work, port)
        wrk(f"{base}/gateway/check", 2, 16, headers=check_headers)  # warm-up
        wrk(f"http://127.0.0.1:{checked_port}/products/x", 2, 16, headers=[f"Authorization: Bearer {key}"])

        rounds = []
        for r in range(ROUNDS):
            health = wrk(f"{base}/healthz", 5, 32, threads=2)
            time.sleep(1)
            health["paced"] = paced_probe(port, "/healthz", 5, 20)["p99"]
            team_paced = paced_probe(port, "/team", 5, 20, {"Cookie": cookie, "Accept": "text/html"})["p99"]
            team = wrk(f"{base}/team", 5, 32, threads=2, headers=team_headers)
            team["paced"] = team_paced
            matrix = team_matrix(base, variants)
            bulk = bulk_round(port, mail_port, cookie, f"r{r}")
            sampler = RssSampler(server.pid)
            sampler.start()
            storm_result = {}
            def sign_in_storm():
                # A failure in the thread is kept and raised below (a thread's SystemExit is silent).
                try:
                    storm_result.update(wrk(f"{base}/api/sign_in", 10, 16, threads=2, script=str(lua)))
                except BaseException as e:
                    storm_result["failed"] = str(e)

            storm = threading.Thread(target=sign_in_storm)
            storm.start()
            time.sleep(2)
            under_load = paced_probe(port, "/healthz", 6, 100)
            storm.join()
            if "failed" in storm_result:
                raise SystemExit(f"the sign-in storm failed: {storm_result['failed']}")
            sampler.stop.set()
            sampler.join()
            gateway = wrk(f"{base}/gateway/check", 5, 32, threads=2, headers=check_headers)
            time.sleep(1)
            reads, before_rss = metric(port, "roster_gateway_holder_reads_total"), rss_bytes(server.pid)
            storm_sampler = RssSampler(server.pid)
            storm_sampler.start()
            invalid = wrk(f"{base}/gateway/check", 10, 32, threads=2, script=str(storm_lua), refusals=True)
            storm_sampler.stop.set()
            storm_sampler.join()
            invalid["lookups"] = metric(port, "roster_gateway_holder_reads_total") - reads
            invalid["growth"] = max(0, storm_sampler.peak - before_rss)
            straight = wrk(f"http://127.0.0.1:{straight_port}/products/x", 5, 32, threads=2)
            through = wrk(f"http://127.0.0.1:{checked_port}/products/x", 5, 32, threads=2,
                          headers=[f"Authorization: Bearer {key}"])
            rounds.append({"health": health, "team": team, "matrix": matrix, "bulk": bulk, "storm": storm_result,
                           "under_load": under_load, "peak_rss": sampler.peak, "gateway": gateway,
                           "invalid": invalid, "straight": straight, "through": through})
            print(f"round {r + 1}: gateway {gateway['rps']:.0f}/s p99 {gateway['p99']:.2f} ms; invalid keys "
                  f"{invalid['rps']:.0f}/s, {invalid['lookups']:.0f} lookups, +{invalid['growth'] / MIB:.1f} MiB; "
                  f"nginx straight {straight['rps']:.0f}/s, checked {through['rps']:.0f}/s", file=sys.stderr)
            print(f"round {r + 1}: healthz {health['rps']:.0f}/s p99 {health['p99']:.2f} ms; "
                  f"sign-in {storm_result['rps']:.1f}/s p99 {storm_result['p99']:.1f} ms; "
                  f"healthz under storm p99 {under_load['p99']:.2f} ms; peak RSS {sampler.peak / MIB:.0f} MiB; "
                  f"team page {team['rps']:.0f}/s p99 {team['p99']:.1f} ms; bulk {bulk['request']:.2f} s, "
                  f"delivered {bulk['delivered']:.1f} s (one invite {bulk['single'] * 1000:.1f} ms)", file=sys.stderr)
        live = live_burst(port, big_cookie)
        loaded_rss = max(x["peak_rss"] for x in rounds)
        # Exactly COUNTED checks with one member's key, then a graceful stop (its last flush).
        counted_key = gateway_key(port, "bench1@example.com")
        start = time.perf_counter()
        answers = json.loads(subprocess.run(
            [HELPER, "hammer", "--url", f"{base}/gateway/check", "--key", counted_key, "--requests", str(COUNTED),
             "--connections", "32"], capture_output=True, text=True, check=True).stdout)
        hammer_seconds = time.perf_counter() - start
        batches = metric(port, "roster_gateway_usage_batches_written_total")
    finally:
        maildev.terminate()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if "nginx" in locals():
            nginx.terminate()
    stored = int(subprocess.run([HELPER, "counted", "--database-url", db, "--email", "bench1@example.com"],
                                capture_output=True, text=True, check=True).stdout)
    # Queries per Team page render: the same binary and database with its statements logged.
    qlog = work / "queries.log"
    qlog_file = open(qlog, "w")
    qserver = subprocess.Popen([BIN, "serve"], env=dict(env, RUST_LOG="warn,sqlx::query=debug"), cwd=work,
                               stdout=qlog_file, stderr=qlog_file)
    try:
        wait_up(f"{base}/healthz", 100)
        qcookie = post(port, "sign_in", {"email": TEAM_OWNER, "password": PASSWORD})[2].split(";")[0]
        count_queries(port, qlog, qcookie)  # the first render fills the roles cache
        queries = count_queries(port, qlog, qcookie)
        if queries == 0:
            raise SystemExit("no SQL statement was logged for a Team page: the count is not measured")
    finally:
        qserver.send_signal(signal.SIGTERM)
        qserver.wait(timeout=30)

    med = lambda f: statistics.median(f(x) for x in rounds)
    health_rps, health_p99 = med(lambda x: x["health"]["rps"]), med(lambda x: x["health"]["p99"])
    signin_rps, signin_p99 = med(lambda x: x["storm"]["rps"]), med(lambda x: x["storm"]["p99"])
    loaded_p99 = med(lambda x: x["under_load"]["p99"])
    peak_rss = med(lambda x: x["peak_rss"])
    team_rps, team_p99 = med(lambda x: x["team"]["rps"]), med(lambda x: x["team"]["p99"])
    team_paced, health_paced = med(lambda x: x["team"]["paced"]), med(lambda x: x["health"]["paced"])
    bulk_request, bulk_delivered = med(lambda x: x["bulk"]["request"]), med(lambda x: x["bulk"]["delivered"])
    single = med(lambda x: x["bulk"]["single"])
    workers = int(os.environ.get("PASSWORD_HASH_WORKERS") or cores)
    rss_bound = idle_rss + workers * ARGON2_MIB * MIB + 64 * MIB
    efficiency = signin_rps / ideal_rate
    ok = lambda cond: "met" if cond else "**missed**"
    gw_rps, gw_p99 = med(lambda x: x["gateway"]["rps"]), med(lambda x: x["gateway"]["p99"])
    bad_rps, bad_p99 = med(lambda x: x["invalid"]["rps"]), med(lambda x: x["invalid"]["p99"])
    bad_growth = max(x["invalid"]["growth"] for x in rounds)
    bad_timeouts = sum(x["invalid"]["timeouts"] for x in rounds)
    bad_lookups = sum(x["invalid"]["lookups"] for x in rounds)
    straight_rps, straight_p99 = med(lambda x: x["straight"]["rps"]), med(lambda x: x["straight"]["p99"])
    through_rps, through_p99 = med(lambda x: x["through"]["rps"]), med(lambda x: x["through"]["p99"])
    made = sum(answers.values())

    labels = [label for label, _ in variants[TEAM_MEMBERS][1]]
    # (A run that completes no request would have failed in wrk(); max() keeps the ratios finite.)
    mrps = lambda org, label: max(med(lambda x: x["matrix"][(org, label)]["rps"]), 0.01)
    rows = []
    for label in labels:
        small, big = mrps(TEAM_MEMBERS, label), mrps(BIG_MEMBERS, label)
        rows.append(f"| {label} | {small:,.0f} | {small / health_rps:.3f} | {big:,.0f} | {big / health_rps:.3f} "
                    f"| {small / big:.2f} |")
    matrix_rows = "\n".join(rows) + "\n"
    deep_ratio = max(mrps(org, labels[0]) / mrps(org, labels[1]) for org in (TEAM_MEMBERS, BIG_MEMBERS))
    weight_rows = "| file | kind | sent as | bytes transferred |\n|---|---|---|---|\n" + "".join(
        f"| `{f['url']}` | {f['kind']} | {f['encoding'] or 'identity'} | {f['transferred']:,} |\n"
        for f in weight["files"])

    uname = os.uname()
    report = f"""# Benchmarks

Measured by `scripts/bench` on {time.strftime('%Y-%m-%d')} ({uname.sysname} {uname.machine}, {cores} cores), against the
release binary on loopback with a SQLite database. Each figure is the median of {ROUNDS} interleaved
rounds, and each is a ratio to a baseline measured in the same run, so figures from different
machines compare. Reproduce with `scripts/bench`; it rewrites this file.

## Baseline: `GET /healthz`

| figure | value |
|---|---|
| throughput (wrk, 2 threads, 32 connections, 5 s) | {health_rps:,.0f} requests/s |
| p99 latency | {health_p99:.2f} ms |
| server RSS, idle after warm-up | {idle_rss / MIB:.1f} MiB |

## Team page

`GET /team` as the Owner, rendered whole on the server (SSR): the frame, the seat count and a
page of 50 rows, in an organization of {TEAM_MEMBERS:,} members (and the invitations this
benchmark adds, {BULK:,} a round) and in one of {BIG_MEMBERS:,} members, in the same run (wrk, 2
threads, 32 connections, {TEAM_SECONDS} s each, session cookie, no compression asked for).

| figure | value | ratio to `/healthz` | target |
|---|---|---|---|
| throughput, page 1 by name, {TEAM_MEMBERS:,} members | {team_rps:,.0f} pages/s | {team_rps / health_rps:.3f} of baseline throughput | ≥ 0.03: {ok(team_rps / health_rps >= 0.03)} |
| p99 latency at full load (32 requests always waiting) | {team_p99:.1f} ms | {team_p99 / health_p99:.1f}× baseline p99 | |
| p99 latency at a steady 20 pages/s on one connection (one person browsing) | {team_paced:.1f} ms | {team_paced / health_paced:.1f}× `/healthz` paced the same way ({health_paced:.2f} ms) | |
| SQL statements per render, with the session and the frame | {queries} | | ≤ 4: {ok(queries <= 4)} |

Each address, {TEAM_MEMBERS:,} and {BIG_MEMBERS:,} members (pages/s; ratio to `/healthz`; the
last column is the {BIG_MEMBERS:,}-member figure's cost over the {TEAM_MEMBERS:,}-member one's,
target ≤ 1.5):

| page | {TEAM_MEMBERS:,} members | ratio | {BIG_MEMBERS:,} members | ratio | cost ratio |
|---|---|---|---|---|---|
{matrix_rows}
Page 200 after "Next" costs {deep_ratio:.2f}× page 1 (target ≤ 1.5: {ok(deep_ratio <= 1.5)}). A typed page
number without the row "Next" came from is found by offset and costs more the deeper it is.
A search of three characters or more is looked up in a trigram index (SQLite FTS5 `trigram`;
PostgreSQL `pg_trgm`): it costs what it matches, not the size of the organization ("lovelace"
matches 1 in 8 members, so the page counts and sorts 1,250 or 12,500 of them; one member's
address costs a page's worth). On SQLite each organization's rows sit in their own rowid
range of the index, so what other organizations hold costs a search nothing. A search of one
or two characters still reads every row.

Where a page's time goes (perf, release build, 10,000 members): about a fifth in SQLite
(the session, the organizations menu and the page's one statement, 0.5 ms of it in SQLite
itself), a quarter in building and writing the HTML and its hydration data (about 70 KB for
50 rows, of which 18 KB are the rows as JSON for the browser), the rest in memory allocation,
copying and the HTTP layers. The rows' action menus are made when a menu opens, not hidden in
every row (a page was 96 KB).

### Live updates

{LIVE_PAGES} open Team pages of the {BIG_MEMBERS:,}-member organization, each holding `/events` and
reading the list again when told of a version newer than the one it shows, after a random wait
within the spread the update names (as the browser does); then {LIVE_CHANGES} changes
(invitations) in {live["seconds"]:.1f} s; every page showed the last change
{live["caught_up"]:.1f} s after it was made.

The server sends one organization's pages at most one update every 250 ms, or every
pages ÷ {RELOADS_PER_SECOND} seconds when more are open ({LIVE_PAGES} pages: {LIVE_PAGES / RELOADS_PER_SECOND:.0f} s), and tells
them to spread their reloads over that time, so they reload the list at about
{RELOADS_PER_SECOND} pages/s in all however many are open.

| figure | value | target |
|---|---|---|
| refetches per page, most / mean | {live["max"]} / {live["mean"]:.1f} | a few (≤ 4): {ok(live["max"] <= 4)} |
| `/healthz` p99 during the burst | {live["burst"]:.2f} ms, {live["burst"] / live["quiet"]:.1f}× its quiet value ({live["quiet"]:.2f} ms) | ≤ 3×: {ok(live["burst"] <= 3 * live["quiet"])} |

### Memory and page weight

| figure | value | target |
|---|---|---|
| server RSS, idle after warm-up (default settings) | {idle_rss / MIB:.1f} MiB | ≤ 50 MiB: {ok(idle_rss <= 50 * MIB)} |
| server RSS, highest under the benchmarks' load | {loaded_rss / MIB:.1f} MiB | ≤ 120 MiB: {ok(loaded_rss <= 120 * MIB)} |
| Team page as Chromium downloads it, empty cache | {weight["total"] / 1000:,.0f} KB ({weight["uncompressed"] / 1000:,.0f} KB uncompressed) | ≤ 186 KB: {ok(weight["total"] <= 186_000)} |

{weight_rows}

Memory: the server uses mimalloc (`server/src/lib.rs`), which made every request cheaper than
glibc's allocator did (in the run before it: `/healthz` 22,000/s, the gateway check 31,000/s,
the Team page 290/s; under glibc the highest RSS also grew by about 25 MiB a round). Two
settings keep the memory down, each measured by this benchmark before and after: mimalloc
commits its arenas as they are used (by default it commits a whole arena at once, which the
kernel's transparent huge pages then fill 2 MiB at a time: idle 75.3 MiB and a highest 253 MiB
before), and the SQLite pool holds two connections per core, 4 to 8 (each connection keeps
its own page cache, schema and prepared statements, several MiB once the Team page's variants
are prepared; with 8 connections on these 2 cores: idle 53.2 MiB, a highest 145.5 MiB).
SQLite's own memory comes from glibc's malloc, not mimalloc.

Where the WASM's size goes (measured once on this build, from the function names in the
`wasm-release` output before wasm-bindgen and wasm-opt, 2.76 MB of live code): the view and
reactive libraries `tachys` 34% and `reactive_graph` 20%; `core`/`alloc` 21% (drop glue 6%);
JSON and form decoding 10% (`serde_json` 6%, `serde_qs` 2%); the application's own pages and
components 4%. One sixth (477 KB) is the asynchronous hydration path that Leptos compiles into
every `AnyView` (`hydrate_async`), which this app never takes: it hydrates synchronously. No
Unicode tables, regex or e-mail parser reach the browser (NFC comes from the browser's
`String.normalize`). So the framework's generic code, not the pages, makes the size: a page
that needs little interactivity would have to be rendered as an island (Leptos `islands`
mode) to send less; cutting `hydrate_async` needs a change in Leptos itself; removing the
`ActionForm`s (serde_qs, about 86 KB before optimisation) and decoding every answer with one
JSON reader (about 50–78 KB) would save about 30 KB brotli together.

{HISTORY}
## Bulk Invite of {BULK:,} addresses

One "Bulk Invite" request with {BULK:,} new addresses to the same organization: every line gets
its invitation, link, outbox email and audit record in one transaction. The outbox worker then
delivers the emails over SMTP to maildev. The baseline is one "Invite User" request (median of 10)
in the same run.

| figure | value | ratio | target |
|---|---|---|---|
| request returns | {bulk_request:.2f} s | {bulk_request / (BULK * single):.3f} of {BULK:,} single invitations ({single * 1000:.1f} ms each) | ≤ 2 s: {ok(bulk_request <= 2)} |
| all {BULK:,} emails captured by the SMTP server | {bulk_delivered:.1f} s | {BULK / bulk_delivered:.0f} emails/s | ≤ 30 s: {ok(bulk_delivered <= 30)} |

## Sign-in storm

16 connections sign 64 verified accounts in as fast as they can for 10 s (every request a
real argon2id verification at 19 MiB, t=2, p=1, plus a new session row). Meanwhile 2 more
a probe requests `/healthz` 100 times a second on one keep-alive connection, as a load
balancer's health check does, and records its latency.

The ideal sign-in rate is cores × 1000 / (one verification on one thread, in ms), measured by
`roster-bench argon2` in the same run: {cores} × 1000 / {verify_ms:.1f} ms = {ideal_rate:.1f}/s.

| figure | value | ratio | target |
|---|---|---|---|
| sign-in throughput | {signin_rps:.1f}/s | {efficiency:.2f} of the ideal argon2 rate | ≥ 0.8: {ok(efficiency >= 0.8)} |
| sign-in throughput vs `/healthz` | | {signin_rps / health_rps:.4f} of baseline throughput | (argon2-bound by design) |
| sign-in p99 | {signin_p99:.0f} ms | {signin_p99 / health_p99:.0f}× baseline p99 | |
| `/healthz` p99 during the storm | {loaded_p99:.2f} ms | {loaded_p99 / health_p99:.1f}× baseline p99 | ≤ 10 ms: {ok(loaded_p99 <= 10)} |
| peak server RSS during the storm | {peak_rss / MIB:.1f} MiB | {peak_rss / idle_rss:.2f}× idle | ≤ idle + {workers} hashes × 19 MiB + 64 MiB = {rss_bound / MIB:.0f} MiB: {ok(peak_rss <= rss_bound)} |

Why it holds: passwords are hashed on a fixed pool of `PASSWORD_HASH_WORKERS` threads (default:
one per core), each holding one 19 MiB block only while it has work, fed by a bounded queue; so
memory cannot grow with
the number of waiting sign-ins, and the hashing threads run at a lower CPU priority than the
request-handling threads, so other pages stay fast while sign-ins queue.

## Gateway check

`GET /gateway/check` with one member's valid key, its holder cached after the first check, every
check counted (wrk, 2 threads, 32 connections, 5 s).

| figure | value | ratio to `/healthz` | target |
|---|---|---|---|
| throughput | {gw_rps:,.0f} checks/s | {gw_rps / health_rps:.2f} of baseline throughput | ≥ 0.70: {ok(gw_rps / health_rps >= 0.70)} |
| p99 latency | {gw_p99:.2f} ms | {gw_p99 / health_p99:.2f}× baseline p99 | ≤ 1.5×: {ok(gw_p99 / health_p99 <= 1.5)} |

### A storm of invalid keys

{MADE_UP_KEYS:,} well-formed keys that were never issued (each with a right checksum), and one in
four requests a malformed key, for 10 s on 32 connections, every round.

| figure | value | ratio / target |
|---|---|---|
| throughput | {bad_rps:,.0f} refusals/s | {bad_rps / health_rps:.2f} of baseline throughput; ≥ 0.50: {ok(bad_rps / health_rps >= 0.50)} |
| p99 latency | {bad_p99:.2f} ms | {bad_p99 / health_p99:.2f}× baseline p99 |
| server RSS growth during a storm (largest of the rounds) | {bad_growth / MIB:.1f} MiB | ≤ 32 MiB: {ok(bad_growth <= 32 * MIB)} |
| timeouts (all rounds) | {bad_timeouts} | 0: {ok(bad_timeouts == 0)} |
| database lookups of a key's holder during the storms (`roster_gateway_holder_reads_total`) | {bad_lookups:.0f} | target 0: {ok(bad_lookups == 0)} |

The counts of these refusals are written like any others (one batch every 2 seconds).

### Through nginx

nginx (Debian's, one worker) with `deploy/nginx/roster-gateway.conf`, in front of an upstream that
nginx answers itself (so the upstream costs next to nothing), against the same nginx proxying to
that upstream without the check.

| figure | straight | with the check | ratio |
|---|---|---|---|
| throughput | {straight_rps:,.0f} requests/s | {through_rps:,.0f} requests/s | {through_rps / straight_rps:.2f} |
| p99 latency | {straight_p99:.2f} ms | {through_p99:.2f} ms | {through_p99 / straight_p99:.2f}× |

### Every check counted

`roster-bench hammer` made exactly {COUNTED:,} checks with another member's key on 32
connections ({hammer_seconds:.0f} s, {COUNTED / hammer_seconds:,.0f} checks/s; answers: {answers}),
then the server was stopped with SIGTERM, which writes the last batch. {batches:.0f} batches were
written before the stop.

| figure | value | target |
|---|---|---|
| checks made | {made:,} | |
| checks stored for that member (`gateway_usage`) | {stored:,} | equal: {ok(stored == made)} |

## Rounds

| round | `/healthz` req/s | `/healthz` p99 ms | `/team` pages/s | `/team` p99 ms | bulk request s | bulk delivered s | sign-in/s | sign-in p99 ms | `/healthz` p99 under storm ms | peak RSS MiB |
|---|---|---|---|---|---|---|---|---|---|---|
""" + "".join(
        f"| {i + 1} | {x['health']['rps']:,.0f} | {x['health']['p99']:.2f} | {x['team']['rps']:,.0f} | {x['team']['p99']:.1f} | {x['bulk']['request']:.2f} | {x['bulk']['delivered']:.1f} | {x['storm']['rps']:.1f} | {x['storm']['p99']:.0f} | {x['under_load']['p99']:.2f} | {x['peak_rss'] / MIB:.1f} |\n"
        for i, x in enumerate(rounds)
    ) + """
| round | check/s | check p99 ms | invalid keys/s | invalid p99 ms | lookups | RSS growth MiB | timeouts | nginx straight/s | nginx checked/s |
|---|---|---|---|---|---|---|---|---|---|
""" + "".join(
        f"| {i + 1} | {x['gateway']['rps']:,.0f} | {x['gateway']['p99']:.2f} | {x['invalid']['rps']:,.0f} | {x['invalid']['p99']:.2f} | {x['invalid']['lookups']:.0f} | {x['invalid']['growth'] / MIB:.1f} | {x['invalid']['timeouts']} | {x['straight']['rps']:,.0f} | {x['through']['rps']:,.0f} |\n"
        for i, x in enumerate(rounds)
    )
    out = ROOT / "docs/BENCHMARKS.md"
    out.write_text(report)
    print(report)
    # The Usage page's section, from a server and database of its own.
    import bench_usage
    bench_usage.run()
    # The REST API's section, likewise.
    import bench_api
    bench_api.run()
    # The Audit Log page's section, likewise.
    import bench_audit
    bench_audit.run()


if __name__ == "__main__":
    main()
