"""A CI system, written with Python's standard library only, against reimage's HTTP API.

It creates a task with a webhook secret, then calls POST /hooks/<task-id> the ways GitHub,
GitLab and a generic pipeline do, signing with hmac/hashlib independently of reimage's own
code: valid signatures start runs, a redelivery returns the first run, a stale or wrong
signature is refused with 401, and the status URL answers.

Environment: API (base URL), TOKEN (bearer token), SECRET (the webhook secret).
"""

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request

API = os.environ["API"]
TOKEN = os.environ["TOKEN"]
SECRET = os.environ["SECRET"].encode()

checks = 0


def call(method, path, body=None, headers=None):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(API + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit("FAILED: " + what)
    checks += 1


status, task = call(
    "POST",
    "/tasks",
    {
        "source_instance_id": "i-running",
        "scaling_configuration_ids": ["asc-active"],
        "executed_at": {"kind": "cron", "expression": "0 0 3 1 1 *"},
        "permission": {"kind": "ram_role", "role_arn": "acs:ram::1234567890123456:role/reimage-ci"},
        "webhook_secret": SECRET.decode(),
    },
    {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
)
check(status == 201, "task created: %s %s" % (status, task))
check("webhook_secret" not in task, "the secret is not echoed")
hook = "/hooks/" + task["task_id"]
body = json.dumps({"ref": "refs/heads/main", "after": "9f8e7d"}).encode()

# GitHub: X-Hub-Signature-256 over the raw body, X-GitHub-Delivery.
github = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
headers = {"X-Hub-Signature-256": github, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
           "Content-Type": "application/json"}
status, first = call("POST", hook, body, headers)
check(status == 202 and first["created"], "GitHub delivery starts a run: %s %s" % (status, first))
status, again = call("POST", hook, body, headers)
check(status == 200 and again["execution_id"] == first["execution_id"], "redelivery returns the first run")
status, err = call("POST", hook, body + b" ", headers)
check(status == 401 and err["code"] == "InvalidSignature", "a changed body is refused: %s" % err)

# GitLab: the shared token itself.
status, gitlab = call("POST", hook, body, {"X-Gitlab-Token": SECRET.decode(),
                                           "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e"})
check(status == 202, "GitLab token starts a run: %s" % status)
status, _ = call("POST", hook, body, {"X-Gitlab-Token": "wrong"})
check(status == 401, "a wrong GitLab token is refused")

# Generic: X-Reimage-Signature: t=<unix>,v1=HMAC(<t>.<body>).
def reimage_signature(t):
    mac = hmac.new(SECRET, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)

now = int(time.time())
status, generic = call("POST", hook, body, {"X-Reimage-Signature": reimage_signature(now),
                                            "Idempotency-Key": "pipeline-1234"})
check(status == 202, "X-Reimage-Signature starts a run: %s %s" % (status, generic))
status, err = call("POST", hook, body, {"X-Reimage-Signature": reimage_signature(now - 400)})
check(status == 401 and "timestamp" in err["message"], "a stale signature is refused: %s" % err)
status, _ = call("POST", hook, body)
check(status == 401, "no signature is refused")

# Where to poll.
status, execution = call("GET", first["status_url"], headers={"Authorization": "Bearer " + TOKEN})
check(status == 200 and execution["status"] in ("pending", "succeeded", "failed"),
      "the status URL answers: %s %s" % (status, execution))
check(execution["trigger"]["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958", "the trigger is recorded")
print("%d checks passed" % checks)
