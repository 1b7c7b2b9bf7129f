"""A CI system, written with Python's standard library only, against reimage's HTTP API.

It creates a task with a webhook secret, then calls POST /hooks/<task-id> the ways GitHub,
GitLab and a generic pipeline do, signing with hmac/hashlib independently of reimage's own
code: valid signatures start runs; one signed body starts one run whatever delivery id or
header spelling comes with it; a stale or wrong signature, and an unknown task, are the same
401; and the status URL answers without the API token (it carries a capability for that one
execution), for that execution only.

Environment: API (base URL), TOKEN (bearer token), SECRET (the webhook secret).
"""

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request

import reimage_sign

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
# The captured request resent with other delivery ids: still the first run, nothing new.
for name in ("X-GitHub-Delivery", "X-Gitlab-Event-UUID", "Idempotency-Key"):
    resent = {"X-Hub-Signature-256": github, name: "attacker-chosen", "Content-Type": "application/json"}
    status, again = call("POST", hook, body, resent)
    check(status == 200 and again["execution_id"] == first["execution_id"] and not again["created"],
          "resent with another %s: the first run, %s %s" % (name, status, again))
status, err = call("POST", hook, body + b" ", headers)
check(status == 401 and err["code"] == "InvalidSignature", "a changed body is refused: %s" % err)

# GitLab: the shared token itself (another push: the same body would be the same run).
gitlab_body = json.dumps({"object_kind": "push", "after": "1a2b3c"}).encode()
status, gitlab = call("POST", hook, gitlab_body, {"X-Gitlab-Token": SECRET.decode(),
                                           "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e"})
check(status == 202, "GitLab token starts a run: %s" % status)
status, _ = call("POST", hook, body, {"X-Gitlab-Token": "wrong"})
check(status == 401, "a wrong GitLab token is refused")
status, unknown = call("POST", "/hooks/task-does-not-exist", body, {"X-Gitlab-Token": "wrong"})
status2, wrong = call("POST", hook, body, {"X-Gitlab-Token": "wrong"})
check(status == status2 == 401 and unknown == wrong, "an unknown task answers as a wrong token does")

# Generic: X-Reimage-Signature: t=<unix>,v1=HMAC(<t>.<body>).
def reimage_signature(t):
    return reimage_sign.signature_of(SECRET, t, body)

now = int(time.time())
generic_body = json.dumps({"pipeline": 1234}).encode()
def reimage_signature_of(t, payload):
    return reimage_sign.signature_of(SECRET, t, payload)

signature = reimage_signature_of(now, generic_body)
status, generic = call("POST", hook, generic_body, {"X-Reimage-Signature": signature,
                                                    "Idempotency-Key": "pipeline-1234"})
check(status == 202, "X-Reimage-Signature starts a run: %s %s" % (status, generic))
# Re-spelled: a blank after the comma, an extra scheme; another Idempotency-Key.
respelled = signature.replace(",", ", ") + ",v0=x"
status, again = call("POST", hook, generic_body, {"X-Reimage-Signature": respelled,
                                                  "Idempotency-Key": "pipeline-9999"})
check(status == 200 and again["execution_id"] == generic["execution_id"],
      "a re-spelled signature names the same run: %s %s" % (status, again))
status, err = call("POST", hook, body, {"X-Reimage-Signature": reimage_signature(now - 400)})
check(status == 401 and "timestamp" in err["message"], "a stale signature is refused: %s" % err)
status, _ = call("POST", hook, body)
check(status == 401, "no signature is refused")

# Where to poll: the status URL works with the webhook's answer alone, no API token.
check("?token=" in first["status_url"], "the status URL carries a capability: %s" % first["status_url"])
status, execution = call("GET", first["status_url"])
check(status == 200 and execution["status"] in ("pending", "succeeded", "failed"),
      "the status URL answers without the API token: %s %s" % (status, execution))
check(execution["execution_id"] == first["execution_id"], "for its execution")
token = first["status_url"].split("?token=")[1]
status, _ = call("GET", "/executions/%s?token=%s" % (generic["execution_id"], token))
check(status == 401, "the capability opens no other execution: %s" % status)
status, _ = call("GET", "/tasks?token=" + token)
check(status == 401, "nor anything else")
check(execution["trigger"]["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958", "the trigger is recorded")
print("%d checks passed" % checks)
