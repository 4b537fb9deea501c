"""Contract tests of the REST API: schemathesis against a running Roster.

Sets up, through the app's own forms and email (maildev), an Owner who signed up and a
Visitor the Owner invited through the API; then runs schemathesis over every operation of
/api/v1/openapi.json: once with the Visitor's key (every write must answer 403
permission_denied) and once with the Owner's key (examples, coverage and stateful phases:
no 5xx, every answer as the document says).

Usage: contract.py ROSTER_URL MAILDEV_URL ST_BINARY REPORT_DIR
"""

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

PASSWORD = "correct horse battery"
# Every check but positive_data_acceptance: a well-formed request may still be refused by the
# organization's state (an address invited already, a role name in use: 409) or by rules across
# fields that a schema cannot state (To before From: 422).
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance", "negative_data_rejection",
    "use_after_free", "ensure_resource_availability", "missing_required_header",
    "unsupported_method", "ignored_auth",
])


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.cookie = None

    def call(self, method, path, form=None, json_body=None, key=None):
        headers = {"Sec-Fetch-Site": "same-origin"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookie and key is None:
            headers["Cookie"] = self.cookie
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                body, status, cookie = res.read().decode(), res.status, res.headers.get("Set-Cookie")
        except urllib.error.HTTPError as e:
            body, status, cookie = e.read().decode(), e.code, None
        if cookie:
            self.cookie = cookie.split(";")[0]
        if status >= 400:
            raise RuntimeError(f"{method} {path} answered {status}: {body}")
        return json.loads(body) if body else None

    def fn(self, name, **form):
        return self.call("POST", f"/api/{name}", form=form)


def link(maildev, to, path):
    """The newest `path` link emailed to `to`."""
    for _ in range(100):
        mails = json.load(urllib.request.urlopen(f"{maildev}/api/email", timeout=10))
        for mail in reversed(mails):
            if any(t["address"].lower() == to for t in mail["to"]):
                found = re.search(rf"https?://\S+{path}\?token=(\S+)", mail["text"])
                if found:
                    return urllib.parse.unquote(found.group(1))
        time.sleep(0.2)
    raise RuntimeError(f"no {path} link reached {to}")


def signed_in(base, email):
    client = Client(base)
    client.fn("sign_in", email=email, password=PASSWORD)
    terms = client.fn("current_terms")
    client.fn("accept_terms", version=terms["version"])
    return client


def setup(base, maildev):
    stamp = str(int(time.time() * 1000))
    owner_email, visitor_email = f"owner-{stamp}@example.com", f"visitor-{stamp}@example.com"
    Client(base).fn("sign_up", first_name="Ada", last_name="Lovelace", email=owner_email,
                    password=PASSWORD, org_name=f"Contract {stamp}")
    Client(base).fn("verify_email", token=link(maildev, owner_email, "verify-email"))
    owner = signed_in(base, owner_email)
    me = owner.fn("own_api_key")
    owner_key = owner.fn("copy_api_key", user_id=str(me["user_id"]))
    # The Visitor is invited through the API itself, and registers from the email.
    owner.call("POST", "/api/v1/invitations", key=owner_key, json_body={
        "email": visitor_email, "first_name": "Vera", "last_name": "Visitor", "role": "visitor"})
    Client(base).fn("register_and_accept", token=link(maildev, visitor_email, "invitation"),
                    first_name="Vera", last_name="Visitor", password=PASSWORD, mobile="")
    try:
        Client(base).fn("verify_email", token=link(maildev, visitor_email, "verify-email"))
    except RuntimeError:
        pass  # the invitation's own link verified the address already
    signed_in(base, visitor_email)
    members = owner.call("GET", "/api/v1/members?role=visitor", key=owner_key)
    visitor_id = next(m["id"] for m in members["data"] if m["email"] == visitor_email)
    visitor_key = owner.call("GET", f"/api/v1/members/{visitor_id}/api-key", key=owner_key)["key"]
    return owner_key, visitor_key


def schemathesis(st, base, key, report, extra):
    report.mkdir(parents=True, exist_ok=True)
    command = [st, "run", f"{base}/api/v1/openapi.json", "--url", base,
               "--header", f"Authorization: Bearer {key}",
               "--max-examples", "25", "--seed", "1",
               "--report", "junit", "--report-dir", str(report), "--no-color", *extra]
    print("+", " ".join(c if "Bearer" not in c else "Authorization: Bearer <key>" for c in command), flush=True)
    return subprocess.run(command).returncode


def main():
    base, maildev, st, report = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3], Path(sys.argv[4])
    owner_key, visitor_key = setup(base, maildev)
    # The Visitor first: the Owner's run changes the team (it may remove the Visitor). Every
    # write answers 403, which the document says; no write may fail on the server.
    failed = schemathesis(st, base, visitor_key, report / "visitor",
                          ["--phases", "examples,coverage", "--checks", CHECKS,
                           "--include-method", "POST", "--include-method", "PATCH", "--include-method", "DELETE"])
    failed |= visitor_writes_refused(base, visitor_key)
    failed |= schemathesis(st, base, owner_key, report / "owner",
                           ["--phases", "examples,coverage,stateful", "--checks", CHECKS])
    sys.exit(1 if failed else 0)


def visitor_writes_refused(base, key):
    """Every write of the document, called by the Visitor, answers 403 permission_denied."""
    doc = json.load(urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=10))
    bad = 0
    for path, item in doc["paths"].items():
        for method in ("post", "patch", "delete"):
            if method not in item:
                continue
            url = base + path.replace("{id}", "1")
            req = urllib.request.Request(url, method=method.upper(), data=b"{}", headers={
                "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=30)
                status, body = 200, {}
            except urllib.error.HTTPError as e:
                status, body = e.code, json.loads(e.read() or b"{}")
            code = body.get("error", {}).get("code")
            if status != 403 or code != "permission_denied":
                print(f"Visitor: {method.upper()} {path} answered {status} {code}", flush=True)
                bad = 1
    print(f"Visitor writes refused: {'no' if bad else 'all'}", flush=True)
    return bad


if __name__ == "__main__":
    main()
