"""reimage's signature, as a CI system or a notification receiver computes it with Python's
standard library: X-Reimage-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
"""

import hashlib
import hmac


def signature_of(secret, t, payload):
    """The header value for `payload` (bytes) signed with `secret` (bytes) at `t`."""
    mac = hmac.new(secret, str(t).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def verify(secret, header, payload):
    """Whether `header` signs `payload` with `secret`: its t, and one of its v1 values."""
    parts = [p.strip().split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    expected = signature_of(secret, int(stamps[0]), payload).split("v1=", 1)[1]
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)
