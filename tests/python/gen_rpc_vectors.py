"""Generates shared/cloud/tests/vectors/rpc_v1.json: RPC v1 (HMAC-SHA1) signing vectors made by the
official Alibaba Cloud Python SDK (aliyunsdkcore, unmodified) for the requests reimage sends.

The SDK draws the timestamp and nonce from aliyunsdkcore.utils.parameter_helper; this script
pins both (by replacing those two functions) so the output is reproducible. Everything else,
list flattening, percent-encoding, sorting, the string to sign and the HMAC, is the SDK's own.

Run from the workspace root:
    .venv/bin/python tests/python/gen_rpc_vectors.py > shared/cloud/tests/vectors/rpc_v1.json

Each vector holds the parameters the SDK signed (query and form body separately, as sent),
the canonical query (recovered from the SDK's string to sign), the string to sign, and the
signature the SDK put on the wire. The Rust test shared/cloud/tests/rpc_vectors.rs checks every
stage of reimage's signer against every vector, without needing Python.
"""

import json
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

import aliyunsdkcore
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.auth.signers.sts_token_signer import StsTokenSigner
from aliyunsdkcore.request import CommonRequest
from aliyunsdkcore.utils import parameter_helper

from aliyunsdkecs.request.v20140526.CreateImageRequest import CreateImageRequest
from aliyunsdkecs.request.v20140526.CreateSnapshotRequest import CreateSnapshotRequest
from aliyunsdkecs.request.v20140526.DescribeImagesRequest import DescribeImagesRequest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkess.request.v20140828.DescribeScalingConfigurationsRequest import (
    DescribeScalingConfigurationsRequest,
)
from aliyunsdkess.request.v20140828.ModifyScalingConfigurationRequest import (
    ModifyScalingConfigurationRequest,
)
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

REGION = "cn-hangzhou"
AK_ID = "LTAI5tReimageVector"
AK_SECRET = "reimage/vector secret~*"
STS_ID = "STS.NUReimageVector"
STS_SECRET = "sts-secret-for-vectors"
STS_TOKEN = "CAIS+token/with=special&chars 和 spaces"


def pinned(timestamp, nonce):
    parameter_helper.get_iso_8061_date = lambda: timestamp
    parameter_helper.get_uuid = lambda: nonce


def sign(name, note, request, timestamp, nonce, sts=False):
    pinned(timestamp, nonce)
    request.set_accept_format("JSON")
    if sts:
        signer = StsTokenSigner(StsTokenCredential(STS_ID, STS_SECRET, STS_TOKEN))
        _, url = signer.sign(REGION, request)
        secret = STS_SECRET
    else:
        url = request.get_url(REGION, AK_ID, AK_SECRET)
        secret = AK_SECRET
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    signature = dict(query)["Signature"]
    query = [[k, v] for k, v in query if k != "Signature"]
    body = [[k, str(v)] for k, v in sorted((request.get_body_params() or {}).items())]
    string_to_sign = request.string_to_sign
    method, slash, encoded_query = string_to_sign.split("&", 2)
    assert slash == "%2F", string_to_sign
    return {
        "name": name,
        "note": note,
        "method": method,
        "access_key_secret": secret,
        "query": query,
        "body": body,
        "canonical_query": unquote(encoded_query),
        "string_to_sign": string_to_sign,
        "signature": signature,
    }


def vectors():
    out = []

    r = DescribeInstancesRequest()
    r.set_method("GET")
    r.set_InstanceIds(json.dumps(["i-bp1reimage01", "i-bp1reimage02"]))
    r.set_PageSize(100)
    r.set_PageNumber(1)
    out.append(sign("describe_instances_json_array_get",
                    "InstanceIds as a JSON-array string; GET",
                    r, "2026-11-27T10:00:00Z", "0b9d6c2e8f1a4d7c9e3b5a1f2c4d6e8a"))

    r = CreateImageRequest()
    r.set_method("POST")
    r.set_SnapshotId("s-bp1reimagesys")
    r.set_ImageName("reimage-web_on_2026-11-27T10:00:00Z")
    r.set_Description("nightly image: web tier * (a/b) ~ 50% done")
    r.set_ClientToken("reimage-exec-42-create-image")
    r.set_Tags([
        {"Key": "reimage:task", "Value": "web nightly"},
        {"Key": "owner", "Value": "运维团队"},
    ])
    r.set_DiskDeviceMappings([
        {"SnapshotId": "s-bp1reimagesys", "DiskType": "system", "Device": "/dev/xvda", "Size": 40},
    ])
    out.append(sign("create_image_tags_post",
                    "Tag.N.Key/Value and DiskDeviceMapping.N.*; spaces, *, ~, /, %, non-ASCII; POST",
                    r, "2026-11-27T10:01:02Z", "c6a3c1b1-0000-4000-8000-00000000abcd"))

    r = CreateSnapshotRequest()
    r.set_method("GET")
    r.set_DiskId("d-bp1reimagesys")
    r.set_SnapshotName("reimage-exec-42")
    r.set_ClientToken("reimage-exec-42-snapshot")
    r.set_Tags([{"Key": "reimage:execution", "Value": "exec-42"}])
    out.append(sign("create_snapshot_sts_token_get",
                    "STS credentials: SecurityToken (with +, /, =, &, space, non-ASCII) is signed; GET",
                    r, "2026-11-27T10:02:03Z", "f00dfeedf00dfeedf00dfeedf00dfeed", sts=True))

    r = DescribeImagesRequest()
    r.set_method("POST")
    r.set_Status("Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated")
    r.set_ImageOwnerAlias("self")
    r.set_ImageName("reimage-web*")
    r.set_Tags([{"Key": "reimage:task", "Value": "web"}])
    r.set_PageSize(100)
    out.append(sign("describe_images_status_list_sts_token_post",
                    "comma-joined Status list, tag filter, wildcard name; STS credentials; POST",
                    r, "2026-11-27T10:03:04Z", "5e5e5e5e-1111-4222-8333-444455556666", sts=True))

    r = DescribeScalingConfigurationsRequest()
    r.set_method("GET")
    r.set_ScalingConfigurationIds(["asc-bp1one", "asc-bp1two", "asc-bp1three"])
    r.set_PageSize(50)
    out.append(sign("describe_scaling_configurations_list_get",
                    "ESS ScalingConfigurationId.N repeat list; GET",
                    r, "2026-11-27T10:04:05Z", "aaaaaaaabbbbccccddddeeeeeeeeeeee"))

    r = ModifyScalingConfigurationRequest()
    r.set_method("POST")
    r.set_ScalingConfigurationId("asc-bp1one")
    r.set_ImageId("m-bp1reimagenew")
    out.append(sign("modify_scaling_configuration_post",
                    "ESS ModifyScalingConfiguration; POST (the legacy SDK adds RegionId itself)",
                    r, "2026-11-27T10:05:06Z", "12345678-9abc-4def-8123-456789abcdef"))

    r = AssumeRoleRequest()
    r.set_RoleArn("acs:ram::1234567890123456:role/reimage-runner")
    r.set_RoleSessionName("reimage@exec-42")
    r.set_DurationSeconds(3600)
    out.append(sign("assume_role_post",
                    "STS AssumeRole: ':' '/' '@' in values; POST",
                    r, "2026-11-27T10:06:07Z", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"))

    r = CommonRequest(domain="ecs.cn-hangzhou.aliyuncs.com", version="2014-05-26",
                      action_name="DeleteImage")
    r.set_method("POST")
    r.add_query_param("ImageId", "m-bp1reimageold")
    r.add_body_params("Force", "true")
    r.add_body_params("Note", "form body ~ value * with spaces")
    r.trans_to_acs_request()
    out.append(sign("delete_image_form_body_post",
                    "POST with form-body parameters: the body is part of the signed set",
                    r.request, "2026-11-27T10:07:08Z", "deadbeefdeadbeefdeadbeefdeadbeef"))
    return out


def main():
    doc = {
        "source": {
            "sdk": "aliyun-python-sdk-core",
            "version": aliyunsdkcore.__version__,
            "service_sdks": {
                "aliyun-python-sdk-ecs": __import__("aliyunsdkecs").__version__,
                "aliyun-python-sdk-ess": __import__("aliyunsdkess").__version__,
                "aliyun-python-sdk-sts": __import__("aliyunsdksts").__version__,
            },
            "script": "tests/python/gen_rpc_vectors.py",
            "how": "the SDK's own request classes and signers, unmodified; only the timestamp "
                   "and nonce functions of aliyunsdkcore.utils.parameter_helper are pinned. "
                   "canonical_query is the SDK's string to sign with its third part decoded.",
        },
        "vectors": vectors(),
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
