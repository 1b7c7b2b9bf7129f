"""The official `oss2` SDK, unmodified, against the sim's OSS front.

Usage: oss2_conformance.py ENDPOINT BUCKET ACCESS_KEY_ID ACCESS_KEY_SECRET
       [STS_ACCESS_KEY_ID STS_ACCESS_KEY_SECRET STS_SECURITY_TOKEN]

Runs each scenario and prints one JSON object of what the SDK observed; the Rust test
(tests/tests/oss2_conformance.rs) asserts on it. Nothing here decides pass or fail except
a scenario that cannot run at all (then the script exits non-zero with the traceback).
"""

import json
import sys

import oss2

REGION = "cn-hangzhou"


def error_of(call):
    """Runs `call`; returns None, or what the SDK made of the error answer."""
    try:
        call()
    except oss2.exceptions.ServerError as e:
        return {
            "status": e.status,
            "code": e.code,
            "message": e.message,
            "request_id": e.request_id,
            "string_to_sign": e.details.get("StringToSign"),
            "host_id": e.details.get("HostId"),
        }
    return None


def main():
    endpoint, bucket_name, ak, secret = sys.argv[1:5]
    sts = sys.argv[5:8]
    bucket = oss2.Bucket(oss2.Auth(ak, secret), endpoint, bucket_name)
    forbid = {"x-oss-forbid-overwrite": "true"}
    out = {}

    key = "state/executions/e-1/0000.json"
    first = bucket.put_object(key, b'{"seq":0}', headers=forbid)
    out["put_first"] = {"status": first.status, "etag": first.etag}
    out["put_second"] = error_of(lambda: bucket.put_object(key, b'{"seq":"again"}', headers=forbid))
    out["get"] = bucket.get_object(key).read().decode()

    odd = "dir one/sub dir/résumé 图像+plus.json"
    bucket.put_object(odd, "non-ASCII ✓".encode(), headers=forbid)
    out["get_odd_key"] = bucket.get_object(odd).read().decode()

    out["missing"] = error_of(lambda: bucket.get_object("state/no/such.json"))
    out["head"] = bucket.head_object(key).content_length
    out["missing_bucket"] = error_of(
        lambda: oss2.Bucket(oss2.Auth(ak, secret), endpoint, "no-such-bucket").get_object(key)
    )

    expected = [f"state/runs/r-{i:02d}.json" for i in range(7)]
    for k in expected:
        bucket.put_object(k, b"{}", headers=forbid)
    pages = []
    token = ""
    while True:
        result = bucket.list_objects_v2(prefix="state/runs/", continuation_token=token, max_keys=3)
        pages.append([o.key for o in result.object_list])
        if not result.is_truncated:
            break
        token = result.next_continuation_token
    out["list_pages"] = pages
    after = bucket.list_objects_v2(prefix="state/runs/", start_after="state/runs/r-02.json", max_keys=2)
    out["list_start_after"] = {
        "keys": [o.key for o in after.object_list],
        "truncated": after.is_truncated,
    }
    out["list_iterator"] = [o.key for o in oss2.ObjectIteratorV2(bucket, prefix="state/", max_keys=2)]
    delimited = bucket.list_objects_v2(prefix="", delimiter="/", max_keys=100)
    out["list_delimited"] = {
        "prefixes": delimited.prefix_list,
        "keys": [o.key for o in delimited.object_list],
    }

    bucket.delete_object(odd)
    out["deleted_exists"] = bucket.object_exists(odd)

    wrong = oss2.Bucket(oss2.Auth(ak, secret + "-wrong"), endpoint, bucket_name)
    out["wrong_secret"] = error_of(lambda: wrong.get_object(key))
    unknown = oss2.Bucket(oss2.Auth("LTAInobody", secret), endpoint, bucket_name)
    out["unknown_key"] = error_of(lambda: unknown.get_object(key))

    # Signature V4 (OSS4-HMAC-SHA256), scoped to the sim's region.
    v4 = oss2.Bucket(oss2.AuthV4(ak, secret), endpoint, bucket_name, region=REGION)
    v4_key = "state/v4/résumé 0000.json"
    v4.put_object(v4_key, b"v4", headers=forbid)
    out["v4_get"] = v4.get_object(v4_key).read().decode()
    out["v4_put_again"] = error_of(lambda: v4.put_object(v4_key, b"again", headers=forbid))
    out["v4_list"] = [o.key for o in v4.list_objects_v2(prefix="state/v4/").object_list]
    v4_wrong = oss2.Bucket(oss2.AuthV4(ak, secret + "-wrong"), endpoint, bucket_name, region=REGION)
    out["v4_wrong_secret"] = error_of(lambda: v4_wrong.get_object(v4_key))

    if sts:
        sts_bucket = oss2.Bucket(oss2.StsAuth(*sts), endpoint, bucket_name)
        sts_key = "state/sts/0000.json"
        sts_bucket.put_object(sts_key, b"sts", headers=forbid)
        out["sts_get"] = sts_bucket.get_object(sts_key).read().decode()
        bad_token = oss2.Bucket(oss2.StsAuth(sts[0], sts[1], sts[2] + "x"), endpoint, bucket_name)
        out["sts_wrong_token"] = error_of(lambda: bad_token.get_object(sts_key))

    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
