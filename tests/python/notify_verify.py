"""Checks the generic notification target's requests as their receiver would, with
reimage_sign (the signing code of the CI client in ci_webhooks.py).

argv[1]: a file holding a JSON list of {"signature": <X-Reimage-Signature>, "body": <the body, base64>}.
Environment: SECRET (the target's secret). Prints the number checked; exits 1 on the first
request whose signature does not hold.
"""

import base64
import json
import os
import sys

import reimage_sign

SECRET = os.environ["SECRET"].encode()
with open(sys.argv[1]) as f:
    requests = json.load(f)
for n, request in enumerate(requests):
    body = base64.b64decode(request["body"])
    if not reimage_sign.verify(SECRET, request["signature"], body):
        print("request %d: the signature %r does not sign its body" % (n, request["signature"]))
        sys.exit(1)
    json.loads(body)  # the body is the notice as JSON
# A wrong secret must not verify: the check above is not vacuous.
if requests and reimage_sign.verify(b"not-the-secret", requests[0]["signature"], base64.b64decode(requests[0]["body"])):
    print("a wrong secret verifies")
    sys.exit(1)
print(len(requests))
