"""The official aliyun-python-sdk-kms (with aliyunsdkcore), unmodified, against a running sim.

Encrypt by key id and by alias, Decrypt with the same EncryptionContext, with an equivalent
one (the pairs in another order) and with a wrong one; an unknown key, an unknown alias and a
disabled key, each with KMS's code and HTTP status.

Environment: SIM_ENDPOINT (http://127.0.0.1:PORT), SIM_REGION, SIM_AK, SIM_SECRET,
SIM_KEY_ID, SIM_KEY_ALIAS, SIM_DISABLED_KEY_ID. Prints one line per check and a final
"kms conformance: N checks passed".
"""

import base64
import json
import os
import sys

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkkms.request.v20160120 import DecryptRequest, EncryptRequest

ENDPOINT = os.environ["SIM_ENDPOINT"]
PORT = int(ENDPOINT.rsplit(":", 1)[1])
REGION = os.environ["SIM_REGION"]
AK = os.environ["SIM_AK"]
SECRET = os.environ["SIM_SECRET"]
KEY_ID = os.environ["SIM_KEY_ID"]
KEY_ALIAS = os.environ["SIM_KEY_ALIAS"]
DISABLED_KEY_ID = os.environ["SIM_DISABLED_KEY_ID"]

CHECKS = 0


def check(cond, what):
    global CHECKS
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    CHECKS += 1
    print(f"ok: {what}")


def prepared(req):
    req.set_endpoint("127.0.0.1")
    req.set_protocol_type("http")
    req.set_accept_format("JSON")
    return req


def call(c, req):
    return json.loads(c.do_action_with_exception(prepared(req)))


def error_of(c, req):
    try:
        c.do_action_with_exception(prepared(req))
    except ServerException as e:
        return e.get_http_status(), e.get_error_code()
    return None


def encrypt(key_id, plaintext, context=None):
    req = EncryptRequest.EncryptRequest()
    req.set_KeyId(key_id)
    req.set_Plaintext(plaintext)
    if context is not None:
        req.set_EncryptionContext(json.dumps(context))
    return req


def decrypt(blob, context=None):
    req = DecryptRequest.DecryptRequest()
    req.set_CiphertextBlob(blob)
    if context is not None:
        req.set_EncryptionContext(json.dumps(context))
    return req


def main():
    kms = AcsClient(AK, SECRET, REGION, port=PORT, auto_retry=False)
    plaintext = base64.b64encode(b"a webhook secret").decode()
    context = {"reimage:task": "task-1", "purpose": "webhook"}

    out = call(kms, encrypt(KEY_ID, plaintext, context))
    blob = out["CiphertextBlob"]
    check(out["KeyId"] == KEY_ID and out["KeyVersionId"] and out["RequestId"] and blob
          and plaintext not in blob,
          "Encrypt by key id answers CiphertextBlob, KeyId, KeyVersionId, RequestId")
    back = call(kms, decrypt(blob, context))
    check(back["Plaintext"] == plaintext and back["KeyId"] == KEY_ID
          and back["KeyVersionId"] == out["KeyVersionId"],
          "Decrypt with the same EncryptionContext answers the Plaintext")
    reordered = dict(reversed(list(context.items())))
    check(call(kms, decrypt(blob, reordered))["Plaintext"] == plaintext,
          "an equivalent EncryptionContext (other order) decrypts")

    by_alias = call(kms, encrypt(KEY_ALIAS, plaintext))
    check(by_alias["KeyId"] == KEY_ID, "Encrypt by alias answers the key's id")
    check(call(kms, decrypt(by_alias["CiphertextBlob"]))["Plaintext"] == plaintext,
          "Decrypt without a context opens what was encrypted without one")

    err = error_of(kms, decrypt(blob, {"reimage:task": "task-2"}))
    check(err == (400, "InvalidParameter"), f"a wrong EncryptionContext is 400 InvalidParameter ({err})")
    err = error_of(kms, decrypt(blob))
    check(err == (400, "InvalidParameter"), f"a missing EncryptionContext is 400 InvalidParameter ({err})")
    err = error_of(kms, decrypt(base64.b64encode(b"not a ciphertext blob").decode(), context))
    check(err == (400, "InvalidParameter"), f"a foreign blob is 400 InvalidParameter ({err})")
    err = error_of(kms, encrypt("key-no-such-key-0000", plaintext))
    check(err == (404, "Forbidden.KeyNotFound"), f"an unknown key is 404 Forbidden.KeyNotFound ({err})")
    err = error_of(kms, encrypt("alias/no-such-alias", plaintext))
    check(err == (404, "Forbidden.AliasNotFound"), f"an unknown alias is 404 Forbidden.AliasNotFound ({err})")
    err = error_of(kms, encrypt(DISABLED_KEY_ID, plaintext))
    check(err == (409, "Rejected.Disabled"), f"a disabled key is 409 Rejected.Disabled ({err})")
    req = encrypt(KEY_ID, plaintext)
    req.set_EncryptionContext('["not", "a", "map"]')
    err = error_of(kms, req)
    check(err == (400, "InvalidParameter"), f"a context that is not a map is 400 InvalidParameter ({err})")

    print(f"kms conformance: {CHECKS} checks passed")


if __name__ == "__main__":
    main()
