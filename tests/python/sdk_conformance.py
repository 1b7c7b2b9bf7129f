"""The official legacy Python SDKs, unmodified, against a running sim.

Every operation the sim implements is called the way an SDK user calls it, and the fields an
SDK user reads are checked. Then AssumeRole, a call with the issued STS credentials
(StsTokenCredential), GetCallerIdentity with the account's key and with those credentials, and
a request signed with a wrong secret (SignatureDoesNotMatch).

Environment: SIM_ENDPOINT (http://127.0.0.1:PORT), SIM_REGION, SIM_AK, SIM_SECRET,
SIM_ROLE_ARN. Image progress is moved along with the sim's admin clock (POST
/__sim/clock/advance), so the script never sleeps. Prints one line per check and a final
"conformance: N checks passed".
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526 import (
    CreateImageRequest,
    CreateLaunchTemplateRequest,
    CreateLaunchTemplateVersionRequest,
    CreateSnapshotRequest,
    DeleteImageRequest,
    DeleteLaunchTemplateRequest,
    DeleteLaunchTemplateVersionRequest,
    DeleteSnapshotRequest,
    DescribeDisksRequest,
    DescribeImageSharePermissionRequest,
    DescribeImagesRequest,
    DescribeInstancesRequest,
    DescribeLaunchTemplatesRequest,
    DescribeLaunchTemplateVersionsRequest,
    DescribeSnapshotsRequest,
    ModifyImageSharePermissionRequest,
    ModifyLaunchTemplateDefaultVersionRequest,
    DescribeInvocationResultsRequest,
    DescribeImageSupportInstanceTypesRequest,
    DescribeInstanceTypesRequest,
    ListTagResourcesRequest,
    ReplaceSystemDiskRequest,
    RunCommandRequest,
    RunInstancesRequest,
    StartInstanceRequest,
    StartInstancesRequest,
    StopInstanceRequest,
    StopInstancesRequest,
    TagResourcesRequest,
    UntagResourcesRequest,
)
from aliyunsdkess.request.v20140828 import (
    DescribeScalingActivitiesRequest,
    DescribeScalingInstancesRequest,
    EnterStandbyRequest,
    ExitStandbyRequest,
    ResumeProcessesRequest,
    SetInstancesProtectionRequest,
    SuspendProcessesRequest,
    DescribeEciScalingConfigurationsRequest,
    DescribeScalingConfigurationsRequest,
    DescribeScalingGroupsRequest,
    ModifyScalingConfigurationRequest,
    ModifyScalingGroupRequest,
)
from aliyunsdkslb.request.v20140515 import (
    DescribeHealthStatusRequest,
    DescribeLoadBalancerAttributeRequest,
    DescribeVServerGroupAttributeRequest,
    SetBackendServersRequest,
    SetVServerGroupAttributeRequest,
)
from aliyunsdksts.request.v20150401 import AssumeRoleRequest, GetCallerIdentityRequest

ENDPOINT = os.environ["SIM_ENDPOINT"]
PORT = int(ENDPOINT.rsplit(":", 1)[1])
REGION = os.environ["SIM_REGION"]
AK = os.environ["SIM_AK"]
SECRET = os.environ["SIM_SECRET"]
ROLE_ARN = os.environ["SIM_ROLE_ARN"]

CHECKS = 0


def check(cond, what):
    global CHECKS
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    CHECKS += 1
    print(f"ok: {what}")


def client(ak=AK, secret=SECRET):
    return AcsClient(ak, secret, REGION, port=PORT, auto_retry=False)


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
        return e.get_http_status(), e.get_error_code(), e.get_error_msg()
    return None


def advance(seconds):
    req = urllib.request.Request(
        f"{ENDPOINT}/__sim/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def admin_post(path, body=None, method="POST"):
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(f"{ENDPOINT}/__sim/{path}", data=data, method=method)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def main():
    ecs = client()

    # DescribeInstances
    req = DescribeInstancesRequest.DescribeInstancesRequest()
    req.set_PageSize(10)
    out = call(ecs, req)
    instances = out["Instances"]["Instance"]
    check(out["TotalCount"] == len(instances) >= 2, "DescribeInstances lists the instances")
    running = next(i for i in instances if i["Status"] == "Running")
    stopped = next(i for i in instances if i["Status"] == "Stopped")
    check(running["InstanceId"].startswith("i-") and running["RegionId"] == REGION,
          "DescribeInstances: InstanceId, Status, RegionId")
    req = DescribeInstancesRequest.DescribeInstancesRequest()
    req.set_InstanceIds(json.dumps([stopped["InstanceId"]]))
    out = call(ecs, req)
    check([i["InstanceId"] for i in out["Instances"]["Instance"]] == [stopped["InstanceId"]],
          "DescribeInstances filters by InstanceIds (JSON array)")

    # StopInstance / StartInstance (immediate in the sim)
    req = StopInstanceRequest.StopInstanceRequest()
    req.set_InstanceId(running["InstanceId"])
    call(ecs, req)
    req = DescribeInstancesRequest.DescribeInstancesRequest()
    req.set_InstanceIds(json.dumps([running["InstanceId"]]))
    check(call(ecs, req)["Instances"]["Instance"][0]["Status"] == "Stopped", "StopInstance stops it")
    req = StartInstanceRequest.StartInstanceRequest()
    req.set_InstanceId(running["InstanceId"])
    call(ecs, req)
    err = error_of(ecs, req)
    check(err is not None and err[:2] == (403, "IncorrectInstanceStatus"),
          "StartInstance starts it; again is IncorrectInstanceStatus (403)")

    # DescribeDisks
    req = DescribeDisksRequest.DescribeDisksRequest()
    req.set_InstanceId(running["InstanceId"])
    disks = call(ecs, req)["Disks"]["Disk"]
    types = sorted(d["Type"] for d in disks)
    check(types == ["data", "system"] and all(d["Status"] == "In_use" for d in disks),
          "DescribeDisks: a system and a data disk, In_use")
    system_disk = next(d for d in disks if d["Type"] == "system")

    # CreateSnapshot, DescribeSnapshots
    req = CreateSnapshotRequest.CreateSnapshotRequest()
    req.set_DiskId(system_disk["DiskId"])
    req.set_SnapshotName("conformance-sys")
    req.set_ClientToken("conformance-snapshot-1")
    snapshot_id = call(ecs, req)["SnapshotId"]
    again = call(ecs, req)["SnapshotId"]
    check(snapshot_id.startswith("s-") and again == snapshot_id,
          "CreateSnapshot returns a SnapshotId, the same for the same ClientToken")
    req = DescribeSnapshotsRequest.DescribeSnapshotsRequest()
    req.set_SnapshotIds(json.dumps([snapshot_id]))
    snap = call(ecs, req)["Snapshots"]["Snapshot"][0]
    check(snap["Status"] == "progressing" and snap["Progress"].endswith("%")
          and snap["SourceDiskId"] == system_disk["DiskId"],
          "DescribeSnapshots: progressing with Progress NN% and its SourceDiskId")
    req = CreateSnapshotRequest.CreateSnapshotRequest()
    req.set_DiskId(system_disk["DiskId"])
    req.set_ClientToken("conformance-snapshot-2")
    err = error_of(ecs, req)
    check(err is not None and err[:2] == (403, "IncorrectDiskStatus.CreatingSnapshot"),
          "a second snapshot of a disk while one is progressing is IncorrectDiskStatus.CreatingSnapshot (403)")
    req.set_ClientToken("conformance-snapshot-1")
    err = error_of(ecs, req)
    check(err is not None and err[:2] == (403, "IdempotentParameterMismatch"),
          "CreateSnapshot: the same ClientToken with other parameters is IdempotentParameterMismatch (403)")

    # CreateImage from the instance, with tags and a ClientToken
    req = CreateImageRequest.CreateImageRequest()
    req.set_InstanceId(running["InstanceId"])
    req.set_ImageName("conformance-image-1")
    req.set_Description("made by the official SDK")
    req.set_Tags([{"Key": "reimage:execution", "Value": "conformance"}])
    req.set_ClientToken("conformance-image-1")
    image_id = call(ecs, req)["ImageId"]
    check(image_id.startswith("m-"), "CreateImage returns an ImageId")
    check(call(ecs, req)["ImageId"] == image_id, "CreateImage is idempotent with its ClientToken")
    req.set_ImageName("conformance-image-other")
    err = error_of(ecs, req)
    check(err is not None and err[:2] == (400, "IdempotenceParamNotMatch"),
          "CreateImage: the same ClientToken with other parameters is IdempotenceParamNotMatch (400)")

    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(image_id)
    check(call(ecs, req)["TotalCount"] == 0, "DescribeImages hides a Creating image by default")
    req.set_Status("Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated")
    image = call(ecs, req)["Images"]["Image"][0]
    check(image["Status"] == "Creating" and image["Progress"].endswith("%"),
          "DescribeImages with Status shows it Creating with Progress")
    check(len(image["DiskDeviceMappings"]["DiskDeviceMapping"]) == 2,
          "an image from an instance holds a snapshot of every disk")
    check(image["Tags"]["Tag"] == [{"TagKey": "reimage:execution", "TagValue": "conformance"}],
          "DescribeImages returns the tags")
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(image_id)
    req.set_Status("ALL")
    check(call(ecs, req)["Images"]["Image"][0]["Status"] == "Creating",
          "DescribeImages takes Status=ALL")

    # Image name rules
    req = CreateImageRequest.CreateImageRequest()
    req.set_InstanceId(stopped["InstanceId"])
    req.set_ImageName("1-starts-with-a-digit")
    err = error_of(ecs, req)
    check(err is not None and err[:2] == (400, "InvalidImageName.Malformed"),
          "a malformed image name is refused (400)")
    req.set_ImageName("conformance-image-1")
    err = error_of(ecs, req)
    check(err is not None and err[:2] == (400, "InvalidImageName.Duplicated"),
          "a duplicated image name is refused (400)")

    advance(3600)
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(image_id)
    image = call(ecs, req)["Images"]["Image"][0]
    check(image["Status"] == "Available" and image["Progress"] == "100%"
          and image["ImageOwnerAlias"] == "self" and image["ImageName"] == "conformance-image-1",
          "the image becomes Available (100%)")
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageOwnerAlias("system")
    req.set_PageSize(1)
    out = call(ecs, req)
    check(out["TotalCount"] >= 2 and len(out["Images"]["Image"]) == 1 and out["PageSize"] == 1,
          "DescribeImages pages with TotalCount")

    # ESS
    ess = client()
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    groups = call(ess, req)["ScalingGroups"]["ScalingGroup"]
    check({g["GroupType"] for g in groups} == {"ECS", "ECI"},
          "DescribeScalingGroups: ECS and ECI groups with GroupType")
    ecs_group = next(g for g in groups if g["GroupType"] == "ECS")
    active_id = ecs_group["ActiveScalingConfigurationId"]
    check(active_id.startswith("asc-") and ecs_group["LifecycleState"] == "Active",
          "DescribeScalingGroups: ActiveScalingConfigurationId, LifecycleState")
    req = DescribeScalingConfigurationsRequest.DescribeScalingConfigurationsRequest()
    req.set_ScalingGroupId(ecs_group["ScalingGroupId"])
    configs = call(ess, req)["ScalingConfigurations"]["ScalingConfiguration"]
    states = {c["ScalingConfigurationId"]: c["LifecycleState"] for c in configs}
    check(states.get(active_id) == "Active", "DescribeScalingConfigurations: LifecycleState Active")
    eci_group = next(g for g in groups if g["GroupType"] == "ECI")
    eci_id = eci_group["ActiveScalingConfigurationId"]
    req = DescribeScalingConfigurationsRequest.DescribeScalingConfigurationsRequest()
    req.set_ScalingConfigurationIds([active_id, eci_id])
    check([c["ScalingConfigurationId"] for c in call(ess, req)["ScalingConfigurations"]["ScalingConfiguration"]]
          == [active_id], "DescribeScalingConfigurations answers ECS-type configurations only")
    req = DescribeEciScalingConfigurationsRequest.DescribeEciScalingConfigurationsRequest()
    req.set_ScalingConfigurationIds([active_id, eci_id])
    eci = call(ess, req)["ScalingConfigurations"]
    check([(c["ScalingConfigurationId"], c["ScalingGroupId"]) for c in eci]
          == [(eci_id, eci_group["ScalingGroupId"])],
          "DescribeEciScalingConfigurations answers the ECI configuration (a plain list)")
    others = [c for c in configs if c["ScalingConfigurationId"] != active_id]
    if others:
        req = ModifyScalingConfigurationRequest.ModifyScalingConfigurationRequest()
        req.set_ScalingConfigurationId(active_id)
        req.set_ScalingConfigurationName(others[0]["ScalingConfigurationName"])
        err = error_of(ess, req)
        check(err is not None and err[:2] == (400, "InvalidScalingConfigurationName.Duplicate"),
              "a configuration name taken in the group is InvalidScalingConfigurationName.Duplicate (400)")
    admin_post(f"groups/{ecs_group['ScalingGroupId']}/disable")
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_ScalingGroupIds([ecs_group["ScalingGroupId"]])
    out = call(ess, req)
    check(out["TotalCount"] == 0 and out["ScalingGroups"]["ScalingGroup"] == [],
          "DescribeScalingGroups leaves a disabled group asked for by id out, without an error")
    admin_post(f"groups/{ecs_group['ScalingGroupId']}/enable")
    check(call(ess, req)["TotalCount"] == 1, "enabled again, it is listed")
    req = DescribeScalingConfigurationsRequest.DescribeScalingConfigurationsRequest()
    req.set_ScalingConfigurationIds([active_id] * 11)
    err = error_of(ess, req)
    check(err is not None and err[:2] == (400, "InvalidParameter"),
          "more than 10 ScalingConfigurationId.N are refused")

    req = ModifyScalingConfigurationRequest.ModifyScalingConfigurationRequest()
    req.set_ScalingConfigurationId(active_id)
    req.set_ImageId(image_id)
    call(ess, req)
    req = DescribeScalingConfigurationsRequest.DescribeScalingConfigurationsRequest()
    req.set_ScalingConfigurationIds([active_id])
    config = call(ess, req)["ScalingConfigurations"]["ScalingConfiguration"][0]
    check(config["ImageId"] == image_id and config["ImageName"] == "conformance-image-1",
          "ModifyScalingConfiguration puts the image in the configuration")
    req = ModifyScalingConfigurationRequest.ModifyScalingConfigurationRequest()
    req.set_ScalingConfigurationId(active_id)
    req.set_ImageId("m-doesnotexist")
    err = error_of(ess, req)
    check(err is not None and err[:2] == (404, "InvalidImageId.NotFound"),
          "an unknown image is InvalidImageId.NotFound (404)")
    req.set_ScalingConfigurationId("asc-doesnotexist")
    req.set_ImageId(image_id)
    err = error_of(ess, req)
    check(err is not None and err[:2] == (404, "InvalidScalingConfigurationId.NotFound"),
          "an unknown configuration is InvalidScalingConfigurationId.NotFound (404)")

    # CreateImage from the snapshot, then DeleteImage and DeleteSnapshot
    req = CreateImageRequest.CreateImageRequest()
    req.set_SnapshotId(snapshot_id)
    req.set_ImageName("conformance-from-snapshot")
    snap_image = call(ecs, req)["ImageId"]
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(snap_image)
    req.set_Status("Creating,Available")
    mappings = call(ecs, req)["Images"]["Image"][0]["DiskDeviceMappings"]["DiskDeviceMapping"]
    check([m["SnapshotId"] for m in mappings] == [snapshot_id],
          "an image from a snapshot holds only that snapshot")
    req = CreateImageRequest.CreateImageRequest()
    req.set_ImageName("conformance-with-empty-disk")
    req.set_DiskDeviceMappings([
        {"SnapshotId": snapshot_id, "DiskType": "system"},
        {"Size": 50, "DiskType": "data"},
    ])
    empty_disk_image = call(ecs, req)["ImageId"]
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(empty_disk_image)
    req.set_Status("ALL")
    mappings = call(ecs, req)["Images"]["Image"][0]["DiskDeviceMappings"]["DiskDeviceMapping"]
    check([(m["SnapshotId"], m["Size"]) for m in mappings][1] == ("", "50"),
          "a DiskDeviceMapping entry without SnapshotId is an empty disk of its Size")
    req = DeleteImageRequest.DeleteImageRequest()
    req.set_ImageId(empty_disk_image)
    call(ecs, req)
    req = DeleteImageRequest.DeleteImageRequest()
    req.set_ImageId(snap_image)
    call(ecs, req)
    err = error_of(ecs, req)
    check(err is not None and err[:2] == (404, "InvalidImageId.NotFound"),
          "DeleteImage deletes; again is InvalidImageId.NotFound (404)")
    req = DeleteSnapshotRequest.DeleteSnapshotRequest()
    req.set_SnapshotId(snapshot_id)
    call(ecs, req)
    req = DescribeSnapshotsRequest.DescribeSnapshotsRequest()
    req.set_SnapshotIds(json.dumps([snapshot_id]))
    check(call(ecs, req)["TotalCount"] == 0, "DeleteSnapshot deletes the snapshot")

    tags_conformance(running["InstanceId"], stopped["InstanceId"])
    image_types_conformance()
    launch_conformance()
    templates_conformance()
    sharing_conformance()
    slb_conformance()
    fleet_conformance()

    # STS
    sts = client()
    account = ROLE_ARN.split(":")[3]
    me = call(sts, GetCallerIdentityRequest.GetCallerIdentityRequest())
    check(me["IdentityType"] == "RAMUser" and me["AccountId"] == account
          and me["Arn"] == f"acs:ram::{account}:user/reimage"
          and len(me["UserId"]) == 18 and me["PrincipalId"] == me["UserId"]
          and "RoleId" not in me and me["RequestId"],
          "GetCallerIdentity with the account's key: the RAM user, its id and ARN")
    req = AssumeRoleRequest.AssumeRoleRequest()
    req.set_RoleArn(ROLE_ARN)
    req.set_RoleSessionName("conformance")
    req.set_DurationSeconds(900)
    out = call(sts, req)
    creds = out["Credentials"]
    check(creds["AccessKeyId"].startswith("STS.") and creds["SecurityToken"]
          and creds["Expiration"].endswith("Z") and out["AssumedRoleUser"]["Arn"].endswith("/conformance"),
          "AssumeRole returns STS credentials and the assumed role user")
    as_role = AcsClient(
        region_id=REGION,
        credential=StsTokenCredential(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]),
        port=PORT,
        auto_retry=False,
    )
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(image_id)
    check(call(as_role, req)["Images"]["Image"][0]["ImageId"] == image_id,
          "a call with the STS credentials (StsTokenCredential) succeeds")
    role = call(as_role, GetCallerIdentityRequest.GetCallerIdentityRequest())
    role_name = ROLE_ARN.rsplit("/", 1)[1]
    check(role["IdentityType"] == "AssumedRoleUser" and role["AccountId"] == account
          and role["Arn"] == f"acs:ram::{account}:assumed-role/{role_name}/conformance"
          and role["PrincipalId"] == out["AssumedRoleUser"]["AssumedRoleId"]
          == role["RoleId"] + ":conformance" and "UserId" not in role,
          "GetCallerIdentity with the STS credentials: the assumed role's session")
    req = AssumeRoleRequest.AssumeRoleRequest()
    req.set_RoleArn(ROLE_ARN.rsplit("/", 1)[0] + "/no-such-role")
    req.set_RoleSessionName("conformance")
    err = error_of(sts, req)
    check(err is not None and err[1] == "EntityNotExist.Role", "an unknown role is EntityNotExist.Role")

    # A wrong secret. On the wire the sim answers 400 SignatureDoesNotMatch with its string to
    # sign; the SDK compares that string with its own and, when they are equal (only the secret
    # differs), reports InvalidAccessKeySecret. Both are checked: the raw answer, then the SDK's.
    req = prepared(DescribeInstancesRequest.DescribeInstancesRequest())
    req.set_method("GET")
    url = req.get_url(REGION, AK, SECRET + "x")
    try:
        urllib.request.urlopen(ENDPOINT + url)
        raw = None
    except urllib.error.HTTPError as e:
        raw = (e.code, json.loads(e.read()))
    check(raw is not None and raw[0] == 400 and raw[1]["Code"] == "SignatureDoesNotMatch"
          and raw[1]["Message"].endswith("server string to sign is:" + req.string_to_sign)
          and raw[1]["RequestId"] and raw[1]["HostId"],
          "a request signed with a wrong secret fails with 400 SignatureDoesNotMatch and the server's string to sign")
    err = error_of(client(secret=SECRET + "x"), DescribeInstancesRequest.DescribeInstancesRequest())
    check(err is not None and err[:2] == (400, "InvalidAccessKeySecret"),
          "the SDK finds the sim's string to sign equal to its own (InvalidAccessKeySecret)")
    err = error_of(client(ak="LTAI-not-a-key"), DescribeInstancesRequest.DescribeInstancesRequest())
    check(err is not None and err[1] == "InvalidAccessKeyId.NotFound",
          "an unknown AccessKeyId is InvalidAccessKeyId.NotFound")

    template_groups_conformance()
    print(f"conformance: {CHECKS} checks passed")


def tags_conformance(first, second):
    """TagResources, UntagResources, ListTagResources and DescribeInstances' tags on two
    instances; every tag is removed at the end."""
    c = client()

    def tag(ids, tags, resource_type="instance"):
        req = TagResourcesRequest.TagResourcesRequest()
        req.set_ResourceType(resource_type)
        req.set_ResourceIds(ids)
        req.set_Tags(tags)
        return req

    def listed(**kw):
        req = ListTagResourcesRequest.ListTagResourcesRequest()
        req.set_ResourceType("instance")
        if "ids" in kw:
            req.set_ResourceIds(kw["ids"])
        if "tags" in kw:
            req.set_Tags(kw["tags"])
        if "filters" in kw:
            req.set_TagFilters(kw["filters"])
        return req

    def rows(out):
        return [(r["ResourceType"], r["ResourceId"], r["TagKey"], r["TagValue"])
                for r in out["TagResources"]["TagResource"]]

    out = call(c, tag([first, second], [{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}]))
    check(set(out) == {"RequestId"}, "TagResources (ResourceId.N, Tag.N) answers only a RequestId")
    call(c, tag([second], [{"Key": "env", "Value": "staging"}, {"Key": "spare"}]))
    out = call(c, listed(ids=[first, second]))
    check(rows(out) == [("instance", first, "team", "web"), ("instance", first, "env", "prod"),
                        ("instance", second, "team", "web"), ("instance", second, "env", "staging"),
                        ("instance", second, "spare", "")]
          and out["NextToken"] == "",
          "ListTagResources (ResourceId.N): TagResources.TagResource[] per tag; a known key takes the new value")
    check([r[1] for r in rows(call(c, listed(tags=[{"Key": "env", "Value": "prod"}])))] == [first, first],
          "ListTagResources (Tag.N): the resources with that tag")
    check({r[1] for r in rows(call(c, listed(tags=[{"Key": "spare"}])))} == {second},
          "ListTagResources (Tag.N.Key alone): any value of the key")
    check({r[1] for r in rows(call(c, listed(filters=[{"TagKey": "env", "TagValues": ["stag*"]}])))} == {second},
          "ListTagResources (TagFilter.N): a value prefix")

    req = DescribeInstancesRequest.DescribeInstancesRequest()
    req.set_InstanceIds(json.dumps([first]))
    check(call(c, req)["Instances"]["Instance"][0]["Tags"]["Tag"]
          == [{"TagKey": "team", "TagValue": "web"}, {"TagKey": "env", "TagValue": "prod"}],
          "DescribeInstances answers Tags.Tag[] (TagKey, TagValue)")
    req = DescribeInstancesRequest.DescribeInstancesRequest()
    req.set_Tags([{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "staging"}])
    check([i["InstanceId"] for i in call(c, req)["Instances"]["Instance"]] == [second],
          "DescribeInstances filters by Tag.N (every pair)")

    # The documented refusals
    for req, want, what in [
        (tag([first, "i-doesnotexist"], [{"Key": "k", "Value": "v"}]), (404, "InvalidResourceId.NotFound"),
         "an unknown resource"),
        (tag([first], [{"Key": "k"}], resource_type="server"), (404, "InvalidResourceType.NotFound"),
         "an unknown ResourceType"),
        (tag([first], [{"Key": "acs:k", "Value": "v"}]), (400, "InvalidTagKey.Malformed"), "a key starting acs:"),
        (tag([first], [{"Key": "k", "Value": "http://x"}]), (400, "InvalidTagValue.Malformed"),
         "a value holding http://"),
        (tag([first], [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]), (400, "Duplicate.TagKey"),
         "a key given twice"),
        (tag([first], [{"Key": f"k{n}"} for n in range(21)]), (400, "NumberExceed.Tags"), "21 tags"),
        (tag([first] * 51, [{"Key": "k"}]), (400, "NumberExceed.ResourceIds"), "51 resource ids"),
        (tag([first], [{"Key": f"k{n}"} for n in range(19)]), (400, "OperationDenied.QuotaExceed"),
         "a resource with more than 20 tags"),
        (listed(tags=[{"Value": "web"}]), (400, "InvalidParameter.TagValue"), "ListTagResources: a value without its key"),
    ]:
        err = error_of(c, req)
        check(err is not None and err[:2] == want, f"{req.get_action_name()}: {what} is {want[1]} ({want[0]})")
    req = UntagResourcesRequest.UntagResourcesRequest()
    req.set_ResourceType("instance")
    req.set_ResourceIds([first])
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "MissingParameter.Tags"),
          "UntagResources without TagKey.N or All is MissingParameter.Tags (404)")
    check(len(rows(call(c, listed(ids=[first])))) == 2, "the refused calls changed nothing")

    req.set_TagKeys(["env", "never-set"])
    req.set_ResourceIds([first, second])
    call(c, req)
    check(rows(call(c, listed(ids=[first, second])))
          == [("instance", first, "team", "web"), ("instance", second, "team", "web"),
              ("instance", second, "spare", "")],
          "UntagResources (TagKey.N) removes those keys, a key not there is no error")
    req = UntagResourcesRequest.UntagResourcesRequest()
    req.set_ResourceType("instance")
    req.set_ResourceIds([first, second])
    req.set_All(True)
    call(c, req)
    check(rows(call(c, listed(ids=[first, second]))) == [], "UntagResources (All) removes every tag")


def image_types_conformance():
    """DescribeImageSupportInstanceTypes of a public x86_64 image, and an instance type the
    admin interface takes away from it."""
    c = client()
    image = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"

    def support(image_id=image, action_type=None):
        req = DescribeImageSupportInstanceTypesRequest.DescribeImageSupportInstanceTypesRequest()
        req.set_ImageId(image_id)
        if action_type:
            req.set_ActionType(action_type)
        return req

    out = call(c, support())
    types = {t["InstanceTypeId"]: t for t in out["InstanceTypes"]["InstanceType"]}
    g7 = types.get("ecs.g7.large")
    check(out["ImageId"] == image and out["RegionId"] == REGION and g7 is not None
          and (g7["CpuCoreCount"], g7["MemorySize"], g7["InstanceTypeFamily"]) == (2, 8, "ecs.g7")
          and isinstance(g7["MemorySize"], float),
          "DescribeImageSupportInstanceTypes: InstanceTypes.InstanceType[] (InstanceTypeId, CpuCoreCount, "
          "MemorySize in GiB, InstanceTypeFamily)")
    check(not any(t.startswith("ecs.g8y.") for t in types), "an x86_64 image is not offered ARM types")
    check(set(t["InstanceTypeId"] for t in call(c, support(action_type="ChangeOS"))["InstanceTypes"]["InstanceType"])
          == set(types), "ActionType ChangeOS answers the same types")
    admin_post(f"images/{image}/unsupported-types", {"instance_types": ["ecs.g7.large"]})
    try:
        left = {t["InstanceTypeId"] for t in call(c, support())["InstanceTypes"]["InstanceType"]}
    finally:
        admin_post(f"images/{image}/unsupported-types", method="DELETE")
    check(left == set(types) - {"ecs.g7.large"}, "a type the admin interface declared unsupported is left out")
    err = error_of(c, support(image_id="m-doesnotexist"))
    check(err is not None and err[:2] == (404, "InvalidImageId.NotFound"),
          "DescribeImageSupportInstanceTypes: an unknown image is InvalidImageId.NotFound (404)")
    err = error_of(c, support(action_type="Reinstall"))
    check(err is not None and err[:2] == (404, "InvalidUsage"),
          "DescribeImageSupportInstanceTypes: an unknown ActionType is InvalidUsage (404)")


def launch_conformance():
    """DescribeInstanceTypes (architecture, boot modes, NVMe, paging) and RunInstances as a
    dry run: DryRunOperation when a launch would pass, the documented error when not."""
    c = client()
    image = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"

    def types(ids=None, max_results=None, next_token=None):
        req = DescribeInstanceTypesRequest.DescribeInstanceTypesRequest()
        if ids:
            req.set_InstanceTypess(ids)
        if max_results is not None:
            req.set_MaxResults(max_results)
        if next_token:
            req.set_NextToken(next_token)
        return req

    out = call(c, types(["ecs.g7.large", "ecs.g8y.large", "ecs.g8i.large"]))
    found = {t["InstanceTypeId"]: t for t in out["InstanceTypes"]["InstanceType"]}
    g7, g8y, g8i = found.get("ecs.g7.large"), found.get("ecs.g8y.large"), found.get("ecs.g8i.large")
    check(set(found) == {"ecs.g7.large", "ecs.g8y.large", "ecs.g8i.large"} and out["NextToken"] == ""
          and (g7["InstanceTypeFamily"], g7["CpuCoreCount"], g7["MemorySize"]) == ("ecs.g7", 2, 8)
          and isinstance(g7["MemorySize"], float),
          "DescribeInstanceTypes (InstanceTypes.N): InstanceTypes.InstanceType[] with InstanceTypeId, "
          "InstanceTypeFamily, CpuCoreCount, MemorySize in GiB")
    check((g7["CpuArchitecture"], g7["SupportedBootModes"]["SupportedBootMode"], g7["NvmeSupport"])
          == ("X86", ["BIOS", "UEFI"], "unsupported")
          and (g8y["CpuArchitecture"], g8y["SupportedBootModes"]["SupportedBootMode"], g8y["NvmeSupport"])
          == ("ARM", ["UEFI"], "required")
          and (g8i["CpuArchitecture"], g8i["SupportedBootModes"]["SupportedBootMode"]) == ("X86", ["UEFI"]),
          "DescribeInstanceTypes: CpuArchitecture, SupportedBootModes.SupportedBootMode[], NvmeSupport")
    every = call(c, types())["InstanceTypes"]["InstanceType"]
    paged, token = [], None
    for _ in range(20):
        page = call(c, types(max_results=4, next_token=token))
        paged += page["InstanceTypes"]["InstanceType"]
        token = page["NextToken"]
        if not token:
            break
    check(len(every) > 4 and [t["InstanceTypeId"] for t in paged] == [t["InstanceTypeId"] for t in every],
          "DescribeInstanceTypes pages with MaxResults and NextToken, NextToken empty on the last page")
    err = error_of(c, types(max_results=0))
    check(err is not None and err[:2] == (400, "InvalidParameter.MaxResults"),
          "DescribeInstanceTypes: MaxResults 0 is InvalidParameter.MaxResults (400)")

    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(image)
    check(call(c, req)["Images"]["Image"][0]["BootMode"] == "BIOS", "DescribeImages: BootMode")

    def run(image_id=image, instance_type="ecs.g7.large", size=40, dry_run=True):
        req = RunInstancesRequest.RunInstancesRequest()
        req.set_ImageId(image_id)
        req.set_InstanceType(instance_type)
        req.set_SecurityGroupId("sg-bp1simdemo0000001")
        req.set_VSwitchId("vsw-bp1simdemo0000001")
        req.set_ZoneId(f"{REGION}-h")
        req.set_SystemDiskCategory("cloud_essd")
        if size is not None:
            req.set_SystemDiskSize(size)
        req.set_Amount(2)
        if dry_run:
            req.set_DryRun(True)
        return req

    err = error_of(c, run())
    check(err is not None and err[:2] == (400, "DryRunOperation")
          and err[2] == "Request validation has been passed with DryRun flag set.",
          "RunInstances (DryRun): a launch that would pass is DryRunOperation (400)")
    err = error_of(c, run(image_id="m-doesnotexist"))
    check(err is not None and err[:2] == (404, "InvalidImageId.NotFound"),
          "RunInstances (DryRun): an unknown image is InvalidImageId.NotFound (404)")
    err = error_of(c, run(instance_type="ecs.g8y.large"))
    check(err is not None and err[:2] == (403, "ImageNotSupportInstanceType"),
          "RunInstances (DryRun): an x86_64 image on an ARM type is ImageNotSupportInstanceType (403)")
    err = error_of(c, run(instance_type="ecs.g8i.large"))
    check(err is not None and err[:2] == (400, "InvalidParameter.Conflict"),
          "RunInstances (DryRun): a BIOS image on a UEFI-only type is InvalidParameter.Conflict (400)")
    admin_post(f"images/{image}/boot-mode", {"boot_mode": "UEFI-Preferred"})
    try:
        err = error_of(c, run(instance_type="ecs.g8i.large"))
    finally:
        admin_post(f"images/{image}/boot-mode", {"boot_mode": "BIOS"})
    check(err is not None and err[:2] == (400, "DryRunOperation"),
          "RunInstances (DryRun): a dual-boot (UEFI-Preferred) image boots on it")
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageName("conformance-image-1")
    made = call(c, req)["Images"]["Image"][0]
    err = error_of(c, run(image_id=made["ImageId"], size=made["Size"] - 10))
    check(err is not None and err[:2] == (404, "InvalidSystemDiskSize.LessThanImageSize"),
          "RunInstances (DryRun): a system disk smaller than the image is "
          "InvalidSystemDiskSize.LessThanImageSize (404)")
    err = error_of(c, run(size=19))
    check(err is not None and err[:2] == (404, "InvalidSystemDiskSize.LessThanMinSize"),
          "RunInstances (DryRun): SystemDisk.Size below 20 GiB is InvalidSystemDiskSize.LessThanMinSize (404)")
    admin_post("instance-types/ecs.g7.large/out-of-stock")
    try:
        err = error_of(c, run())
    finally:
        admin_post("instance-types/ecs.g7.large/out-of-stock", method="DELETE")
    check(err is not None and err[:2] == (403, "OperationDenied.NoStock"),
          "RunInstances (DryRun): a type out of stock is OperationDenied.NoStock (403)")
    err = error_of(c, run(dry_run=False))
    check(err is not None and err[:2] == (400, "OperationDenied"),
          "RunInstances without DryRun: the sim launches nothing (OperationDenied, 400)")
    launch_settings_conformance()


def launch_settings_conformance():
    """What each scaling configuration launches its instances with, and the vSwitches of its
    group, as the ESS SDK reads them; then the RunInstances dry run made of them (reimage's
    pre-flight), with the ECS SDK."""
    c = client()
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_GroupType("ECS")
    groups = {g["ScalingGroupName"]: g for g in call(c, req)["ScalingGroups"]["ScalingGroup"]}
    web, api = groups["web"], groups["api"]
    check(web["VSwitchIds"]["VSwitchId"] == ["vsw-bp1demowebh000001", "vsw-bp1demowebi000001"]
          and web["VSwitchId"] == "vsw-bp1demowebh000001"
          and api["VSwitchIds"]["VSwitchId"] == [api["VSwitchId"]],
          "DescribeScalingGroups: VSwitchIds.VSwitchId[] in priority order, VSwitchId the first")
    configs = {}
    for group in (web, api):
        req = DescribeScalingConfigurationsRequest.DescribeScalingConfigurationsRequest()
        req.set_ScalingGroupId(group["ScalingGroupId"])
        for config in call(c, req)["ScalingConfigurations"]["ScalingConfiguration"]:
            configs[config["ScalingConfigurationName"]] = config
    current = configs["web-current"]
    check(current["InstanceType"] == "ecs.g7.large"
          and current["InstanceTypes"]["InstanceType"] == ["ecs.g7.large", "ecs.c7.large"],
          "DescribeScalingConfigurations: InstanceTypes.InstanceType[] in priority order, "
          "InstanceType the first")
    check(current["SecurityGroupId"] == "sg-bp1demoweb0000001"
          and current["SecurityGroupIds"]["SecurityGroupId"] == ["sg-bp1demoweb0000001"],
          "DescribeScalingConfigurations: one security group as SecurityGroupId and SecurityGroupIds")
    check((current["SystemDiskCategory"], current["SystemDiskPerformanceLevel"],
           current["SystemDiskSize"], current["KeyPairName"], current["ZoneId"],
           current["PasswordInherit"])
          == ("cloud_essd", "PL1", 40, "web-deploy", "", False),
          "DescribeScalingConfigurations: SystemDiskCategory, SystemDiskPerformanceLevel, "
          "SystemDiskSize, KeyPairName, ZoneId, PasswordInherit (a boolean)")
    api_current = configs["api-current"]
    check(api_current["SecurityGroupId"] == ""
          and api_current["SecurityGroupIds"]["SecurityGroupId"]
          == ["sg-bp1demoapi0000001", "sg-bp1demoshared00001"]
          and (api_current["SystemDiskCategory"], api_current["SystemDiskPerformanceLevel"],
               api_current["KeyPairName"], api_current["PasswordInherit"])
          == ("cloud_auto", "", "", True),
          "DescribeScalingConfigurations: several security groups as SecurityGroupIds only, "
          "an AutoPL disk without a performance level, the image's password")

    def launch_as(config, group, **changed):
        config = dict(config, **changed)
        req = RunInstancesRequest.RunInstancesRequest()
        req.set_ImageId(config["ImageId"])
        req.set_InstanceType(config["InstanceTypes"]["InstanceType"][0])
        security_groups = config["SecurityGroupIds"]["SecurityGroupId"]
        if len(security_groups) == 1:
            req.set_SecurityGroupId(security_groups[0])
        else:
            req.set_SecurityGroupIdss(security_groups)
        req.set_VSwitchId(group["VSwitchIds"]["VSwitchId"][0])
        req.set_SystemDiskCategory(config["SystemDiskCategory"])
        req.set_SystemDiskSize(config["SystemDiskSize"])
        if config["SystemDiskPerformanceLevel"]:
            req.set_SystemDiskPerformanceLevel(config["SystemDiskPerformanceLevel"])
        if config["KeyPairName"]:
            req.set_KeyPairName(config["KeyPairName"])
        if config["PasswordInherit"]:
            req.set_PasswordInherit(True)
        req.set_DryRun(True)
        return req

    for name, group in [("web-current", web), ("web-previous", web), ("api-current", api)]:
        err = error_of(c, launch_as(configs[name], group))
        check(err is not None and err[:2] == (400, "DryRunOperation"),
              f"RunInstances (DryRun) as configuration {name} launches passes")
    err = error_of(c, launch_as(current, web, SystemDiskPerformanceLevel="PL3"))
    check(err is not None and err[:2] == (404, "InvalidSystemDiskSize.LessThanMinSize"),
          "RunInstances (DryRun): a PL3 ESSD (SystemDisk.PerformanceLevel) of 40 GiB is "
          "InvalidSystemDiskSize.LessThanMinSize (404)")
    err = error_of(c, launch_as(current, web, SystemDiskCategory="cloud_essd_entry",
                                SystemDiskPerformanceLevel=""))
    check(err is not None and err[:2] == (403, "InvalidDiskCategory.NotSupported"),
          "RunInstances (DryRun): an entry-level ESSD on ecs.g7.large is "
          "InvalidDiskCategory.NotSupported (403)")


def fleet_conformance():
    """A scaling group's fleet: what a rolling update calls, in the order it calls it."""
    c = client()
    admin_post("power", {"stop_seconds": 30, "boot_seconds": 60, "replace_seconds": 20})
    req = DescribeScalingInstancesRequest.DescribeScalingInstancesRequest()
    req.set_ScalingGroupId("asg-bp1demoweb0000001")
    req.set_LifecycleState("InService")
    req.set_PageSize(50)
    out = call(c, req)
    members = out["ScalingInstances"]["ScalingInstance"]
    check(out["TotalCount"] == len(members) >= 2
          and all(m["HealthStatus"] == "Healthy" and m["CreationType"] == "AutoCreated"
                  and m["LoadBalancerWeight"] == 50 for m in members),
          "DescribeScalingInstances: InService, Healthy, AutoCreated, weight 50")
    group = members[0]["ScalingGroupId"]
    ids = [m["InstanceId"] for m in members[:2]]

    req = SuspendProcessesRequest.SuspendProcessesRequest()
    req.set_ScalingGroupId(group)
    req.set_Processs(["ScaleIn", "ScaleOut", "ScheduledAction"])
    req.set_ClientToken("conformance-suspend")
    call(c, req)
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_ScalingGroupIds([group])
    suspended = call(c, req)["ScalingGroups"]["ScalingGroup"][0]["SuspendedProcesses"]["SuspendedProcess"]
    check(sorted(suspended) == ["ScaleIn", "ScaleOut", "ScheduledAction"],
          "SuspendProcesses (Process.N): DescribeScalingGroups lists SuspendedProcesses")

    req = EnterStandbyRequest.EnterStandbyRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds(ids)
    req.set_ClientToken("conformance-standby")
    activity = call(c, req)["ScalingActivityId"]
    check(activity.startswith("asa-") and call(c, req)["ScalingActivityId"] == activity,
          "EnterStandby (InstanceId.N) answers a ScalingActivityId, the same for a replayed ClientToken")
    req = DescribeScalingInstancesRequest.DescribeScalingInstancesRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds(ids)
    check(all(m["LifecycleState"] == "Standby" and m["LoadBalancerWeight"] == 0
              for m in call(c, req)["ScalingInstances"]["ScalingInstance"]),
          "EnterStandby: Standby, weight 0")
    req = DescribeScalingActivitiesRequest.DescribeScalingActivitiesRequest()
    req.set_ScalingActivityIds([activity])
    acts = call(c, req)["ScalingActivities"]["ScalingActivity"]
    check(len(acts) == 1 and acts[0]["StatusCode"] == "Successful" and acts[0]["ScalingGroupId"] == group,
          "DescribeScalingActivities (ScalingActivityId.N): the standby activity, Successful")

    req = StopInstancesRequest.StopInstancesRequest()
    req.set_InstanceIds(ids)
    req.set_StoppedMode("KeepCharging")
    answers = call(c, req)["InstanceResponses"]["InstanceResponse"]
    check([a["Code"] for a in answers] == ["200", "200"] and all(a["CurrentStatus"] == "Stopping" for a in answers),
          "StopInstances (InstanceId.N, StoppedMode): each Stopping, Code 200")
    advance(30)
    req = DescribeInstancesRequest.DescribeInstancesRequest()
    req.set_InstanceIds(json.dumps(ids))
    seen = call(c, req)["Instances"]["Instance"]
    check(all(i["Status"] == "Stopped" and i["StoppedMode"] == "KeepCharging"
              and i["OperationLocks"]["LockReason"] == [] for i in seen),
          "DescribeInstances: Stopped, StoppedMode KeepCharging, no OperationLocks")

    image = "aliyun_3_x64_20G_alibase_20240101.vhd"
    for n, instance in enumerate(ids):
        req = ReplaceSystemDiskRequest.ReplaceSystemDiskRequest()
        req.set_InstanceId(instance)
        req.set_ImageId(image)
        req.set_PasswordInherit(True)
        req.set_ClientToken(f"conformance-replace-{n}")
        disk = call(c, req)["DiskId"]
        check(disk.startswith("d-") and call(c, req)["DiskId"] == disk,
              "ReplaceSystemDisk answers the new DiskId, the same for a replayed ClientToken")
    req = DescribeDisksRequest.DescribeDisksRequest()
    req.set_InstanceId(ids[0])
    req.set_DiskType("system")
    check(call(c, req)["Disks"]["Disk"][0]["Status"] == "ReIniting", "the new system disk is ReIniting")
    req = StartInstancesRequest.StartInstancesRequest()
    req.set_InstanceIds(ids)
    req.set_DryRun(True)
    err = error_of(c, req)
    check(err is not None and err[:2] == (403, "DiskError"),
          "StartInstances before the disk is written: DiskError (403)")
    advance(20)
    err = error_of(c, req)
    check(err is not None and err[1] == "DRYRUN.SUCCESS", "StartInstances DryRun: DRYRUN.SUCCESS")
    req = StartInstancesRequest.StartInstancesRequest()
    req.set_InstanceIds(ids)
    call(c, req)
    advance(60)
    req = DescribeInstancesRequest.DescribeInstancesRequest()
    req.set_InstanceIds(json.dumps(ids))
    check(all(i["Status"] == "Running" and i["ImageId"] == image for i in call(c, req)["Instances"]["Instance"]),
          "StartInstances: Running on the new image")

    req = ExitStandbyRequest.ExitStandbyRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds(ids)
    check(call(c, req)["ScalingActivityId"].startswith("asa-"), "ExitStandby answers a ScalingActivityId")
    req = SetInstancesProtectionRequest.SetInstancesProtectionRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds(ids[:1])
    req.set_ProtectedFromScaleIn(True)
    call(c, req)
    req = DescribeScalingInstancesRequest.DescribeScalingInstancesRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds(ids)
    states = [(m["LifecycleState"], m["LoadBalancerWeight"], m["HealthStatus"])
              for m in call(c, req)["ScalingInstances"]["ScalingInstance"]]
    check(states == [("Protected", 50, "Healthy"), ("InService", 50, "Healthy")],
          "ExitStandby: InService at weight 50; SetInstancesProtection: Protected")
    req = ResumeProcessesRequest.ResumeProcessesRequest()
    req.set_ScalingGroupId(group)
    req.set_Processs(["ScaleIn", "ScaleOut", "ScheduledAction"])
    call(c, req)
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_ScalingGroupIds([group])
    check(call(c, req)["ScalingGroups"]["ScalingGroup"][0]["SuspendedProcesses"]["SuspendedProcess"] == [],
          "ResumeProcesses: nothing suspended")

    # Cloud Assistant: a readiness command exits 0, except on an image marked bad.
    admin_post(f"images/{image}/bad")
    healthy = members[2]["InstanceId"]
    req = RunCommandRequest.RunCommandRequest()
    req.set_Type("RunShellScript")
    req.set_CommandContent("systemctl is-active web")
    req.set_InstanceIds([ids[0], healthy])
    req.set_Timeout(60)
    req.set_ClientToken("conformance-ready")
    out = call(c, req)
    invoke = out["InvokeId"]
    check(invoke.startswith("t-") and out["CommandId"].startswith("c-") and call(c, req)["InvokeId"] == invoke,
          "RunCommand (InstanceId.N) answers CommandId and InvokeId, the same for a replayed ClientToken")
    req = DescribeInvocationResultsRequest.DescribeInvocationResultsRequest()
    req.set_InvokeId(invoke)
    results = {r["InstanceId"]: r for r in call(c, req)["Invocation"]["InvocationResults"]["InvocationResult"]}
    check(results[healthy]["InvocationStatus"] == "Success" and results[healthy]["ExitCode"] == 0
          and results[ids[0]]["InvocationStatus"] == "Failed" and results[ids[0]]["ExitCode"] == 1
          and b"readiness check failed" in base64.b64decode(results[ids[0]]["Output"]),
          "DescribeInvocationResults: Success on a good image, Failed (exit 1, Base64 output) on a bad one")
    admin_post("power", {})


def templates_conformance():
    """Launch templates: a template and its versions made, listed with each version's
    LaunchTemplateData.ImageId, a new default, versions and the template deleted, and the
    documented refusals."""
    c = client()
    ubuntu = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"
    alinux = "aliyun_3_x64_20G_alibase_20240101.vhd"

    req = CreateLaunchTemplateRequest.CreateLaunchTemplateRequest()
    req.set_LaunchTemplateName("conformance-web")
    req.set_TemplateTags([{"Key": "team", "Value": "web"}])
    req.set_VersionDescription("first version")
    req.set_ImageId(ubuntu)
    req.set_InstanceType("ecs.g7.large")
    req.set_SecurityGroupId("sg-bp1simdemo0000001")
    req.set_VSwitchId("vsw-bp1simdemo0000001")
    req.set_SystemDiskCategory("cloud_essd")
    req.set_SystemDiskSize(40)
    out = call(c, req)
    template = out["LaunchTemplateId"]
    check(template.startswith("lt-") and out["LaunchTemplateVersionNumber"] == 1,
          "CreateLaunchTemplate answers LaunchTemplateId and version 1")
    err = error_of(c, req)
    check(err is not None and err[:2] == (403, "LaunchTemplateName.Duplicated"),
          "CreateLaunchTemplate: a name taken is LaunchTemplateName.Duplicated (403)")

    req = CreateLaunchTemplateVersionRequest.CreateLaunchTemplateVersionRequest()
    req.set_LaunchTemplateId(template)
    req.set_ImageId(alinux)
    req.set_SystemDiskSize(50)
    out = call(c, req)
    check(out["LaunchTemplateVersionNumber"] == 2 and out["LaunchTemplateId"] == template,
          "CreateLaunchTemplateVersion answers version 2")

    req = DescribeLaunchTemplatesRequest.DescribeLaunchTemplatesRequest()
    req.set_LaunchTemplateIds([template])
    req.set_PageSize(50)
    out = call(c, req)
    t = out["LaunchTemplateSets"]["LaunchTemplateSet"][0]
    check(out["TotalCount"] == 1 and t["LaunchTemplateName"] == "conformance-web"
          and t["DefaultVersionNumber"] == 1 and t["LatestVersionNumber"] == 2
          and t["Tags"]["Tag"] == [{"TagKey": "team", "TagValue": "web"}],
          "DescribeLaunchTemplates (LaunchTemplateId.N): DefaultVersionNumber, LatestVersionNumber, Tags.Tag[]")

    req = DescribeLaunchTemplateVersionsRequest.DescribeLaunchTemplateVersionsRequest()
    req.set_LaunchTemplateId(template)
    req.set_DetailFlag(True)
    req.set_PageSize(50)
    out = call(c, req)
    versions = out["LaunchTemplateVersionSets"]["LaunchTemplateVersionSet"]
    check([(v["VersionNumber"], v["DefaultVersion"], v["LaunchTemplateData"]["ImageId"],
            v["LaunchTemplateData"]["SystemDisk.Size"]) for v in versions]
          == [(1, True, ubuntu, 40), (2, False, alinux, 50)] and out["TotalCount"] == 2,
          "DescribeLaunchTemplateVersions (DetailFlag): each version's LaunchTemplateData.ImageId and SystemDisk.Size")
    check(versions[0]["LaunchTemplateData"]["InstanceType"] == "ecs.g7.large"
          and versions[0]["VersionDescription"] == "first version",
          "DescribeLaunchTemplateVersions: InstanceType and VersionDescription")
    req.set_DetailFlag(False)
    req.set_DefaultVersion(True)
    out = call(c, req)
    versions = out["LaunchTemplateVersionSets"]["LaunchTemplateVersionSet"]
    check(len(versions) == 1 and versions[0]["VersionNumber"] == 1
          and "LaunchTemplateData" not in versions[0],
          "DescribeLaunchTemplateVersions (DefaultVersion, DetailFlag=false): the default version alone, no data")
    req = DescribeLaunchTemplateVersionsRequest.DescribeLaunchTemplateVersionsRequest()
    req.set_LaunchTemplateId("lt-doesnotexist")
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidLaunchTemplate.NotFound"),
          "DescribeLaunchTemplateVersions: an unknown template is InvalidLaunchTemplate.NotFound (404)")

    req = DeleteLaunchTemplateVersionRequest.DeleteLaunchTemplateVersionRequest()
    req.set_LaunchTemplateId(template)
    req.set_DeleteVersions([1])
    err = error_of(c, req)
    check(err is not None and err[:2] == (403, "InvalidOperation.DeleteDefaultVersion"),
          "DeleteLaunchTemplateVersion: the default version is InvalidOperation.DeleteDefaultVersion (403)")
    req = ModifyLaunchTemplateDefaultVersionRequest.ModifyLaunchTemplateDefaultVersionRequest()
    req.set_LaunchTemplateId(template)
    req.set_DefaultVersionNumber(9)
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidLaunchTemplateVersion.NotFound"),
          "ModifyLaunchTemplateDefaultVersion: an unknown version is InvalidLaunchTemplateVersion.NotFound (404)")
    req.set_DefaultVersionNumber(2)
    check(call(c, req)["LaunchTemplateId"] == template, "ModifyLaunchTemplateDefaultVersion answers the template")
    req = DeleteLaunchTemplateVersionRequest.DeleteLaunchTemplateVersionRequest()
    req.set_LaunchTemplateId(template)
    req.set_DeleteVersions([1])
    out = call(c, req)
    check(out["LaunchTemplateVersions"]["LaunchTemplateVersion"]
          == [{"LaunchTemplateId": template, "LaunchTemplateVersionNumber": 1}],
          "DeleteLaunchTemplateVersion answers LaunchTemplateVersions.LaunchTemplateVersion[]")

    req = DeleteLaunchTemplateRequest.DeleteLaunchTemplateRequest()
    req.set_LaunchTemplateName("conformance-web")
    out = call(c, req)
    check(out["LaunchTemplateId"] == template and out["LaunchTemplateVersionNumbers"]["versionNumbers"] == [2],
          "DeleteLaunchTemplate answers LaunchTemplateVersionNumbers.versionNumbers")
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidLaunchTemplate.NotFound"),
          "DeleteLaunchTemplate: again is InvalidLaunchTemplate.NotFound (404)")


def _template_query(data, image):
    """The CreateLaunchTemplateVersion parameters that make a version equal to `data` (a
    version's LaunchTemplateData) but for its ImageId: what copying a version takes."""
    def scalar(v):
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    out = {}
    for key, value in data.items():
        if key == "SystemDisk":
            continue  # the nested form of the flat SystemDisk.* names
        if key in ("SecurityOptions", "ImageOptions"):
            for member, v in value.items():
                out[f"{key}.{member}"] = scalar(v)
        elif key == "SecurityGroupIds":
            for n, g in enumerate(value["SecurityGroupId"], 1):
                out[f"SecurityGroupIds.{n}"] = g
        elif key == "DataDisks":
            for n, disk in enumerate(value["DataDisk"], 1):
                for member, v in disk.items():
                    out[f"DataDisk.{n}.{member}"] = scalar(v)
        elif key == "NetworkInterfaces":
            for n, nic in enumerate(value["NetworkInterface"], 1):
                for member, v in nic.items():
                    if member == "SecurityGroupIds":
                        for m, g in enumerate(v["SecurityGroupId"], 1):
                            out[f"NetworkInterface.{n}.SecurityGroupIds.{m}"] = g
                    else:
                        out[f"NetworkInterface.{n}.{member}"] = scalar(v)
        elif key == "Tags":
            for n, tag in enumerate(value["InstanceTag"], 1):
                out[f"Tag.{n}.Key"] = tag["Key"]
                out[f"Tag.{n}.Value"] = tag["Value"]
        elif value != "":
            out[key] = scalar(value)
    out["ImageId"] = image
    return out


def template_groups_conformance():
    """A launch template version with data disks, two network interfaces, tags, binary user
    data and security options made with the official SDK, read back whole, copied with a new
    image (every field sent again) and read equal but for the image; a scaling group pointed
    at the template and its versions with ModifyScalingGroup, read with DescribeScalingGroups,
    and given its configuration back."""
    c = client()
    ubuntu = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"
    alinux = "aliyun_3_x64_20G_alibase_20240101.vhd"
    user_data = base64.b64encode(bytes(range(256)) + "#!/bin/sh\necho héllo\n".encode()).decode()

    req = CreateLaunchTemplateRequest.CreateLaunchTemplateRequest()
    req.set_LaunchTemplateName("conformance-group-template")
    req.set_ImageId(ubuntu)
    out = call(c, req)
    template = out["LaunchTemplateId"]

    req = CreateLaunchTemplateVersionRequest.CreateLaunchTemplateVersionRequest()
    req.set_LaunchTemplateId(template)
    req.set_VersionDescription("everything")
    req.set_ImageId(ubuntu)
    req.set_InstanceType("ecs.g7.large")
    req.set_SecurityGroupIdss(["sg-bp1demoweb0000001", "sg-bp1extra000000001"])
    req.set_VSwitchId("vsw-bp1demowebh000001")
    req.set_SystemDiskCategory("cloud_essd")
    req.set_SystemDiskSize(40)
    req.set_SystemDiskPerformanceLevel("PL1")
    req.set_SystemDiskDeleteWithInstance(True)
    req.set_UserData(user_data)
    req.set_HostName("web")
    req.set_RamRoleName("web-role")
    req.set_InternetMaxBandwidthOut(0)
    req.set_SpotStrategy("SpotWithPriceLimit")
    req.set_SpotPriceLimit(0.98)
    req.set_DeletionProtection(True)
    req.set_PasswordInherit(False)
    req.set_HttpTokens("required")
    req.set_SecurityOptions({"TrustedSystemMode": "vTPM"})
    req.set_DataDisks([
        {"Category": "cloud_essd", "Size": 100, "PerformanceLevel": "PL2", "DeleteWithInstance": False,
         "Device": "/dev/xvdb", "Encrypted": "true"},
        {"Category": "cloud_auto", "Size": 200, "SnapshotId": "s-bp1demo0000000001", "BurstingEnabled": True},
    ])
    req.set_NetworkInterfaces([
        {"VSwitchId": "vsw-bp1demowebh000001", "InstanceType": "Primary",
         "SecurityGroupIds": ["sg-bp1demoweb0000001", "sg-bp1extra000000001"]},
        {"VSwitchId": "vsw-bp1demowebi000001", "InstanceType": "Secondary", "SecurityGroupId": "sg-bp1extra000000001",
         "Description": "second", "DeleteOnRelease": True},
    ])
    req.set_Tags([{"Key": "team", "Value": "web"}, {"Key": "tier", "Value": "front"}])
    out = call(c, req)
    check(out["LaunchTemplateVersionNumber"] == 2,
          "CreateLaunchTemplateVersion with DataDisk.N, NetworkInterface.N, Tag.N, UserData, SecurityOptions")

    def version(n):
        req = DescribeLaunchTemplateVersionsRequest.DescribeLaunchTemplateVersionsRequest()
        req.set_LaunchTemplateId(template)
        req.set_LaunchTemplateVersions([n])
        return call(c, req)["LaunchTemplateVersionSets"]["LaunchTemplateVersionSet"][0]["LaunchTemplateData"]
    data = version(2)
    check([(d["Size"], d["Category"]) for d in data["DataDisks"]["DataDisk"]]
          == [(100, "cloud_essd"), (200, "cloud_auto")]
          and data["DataDisks"]["DataDisk"][0]["DeleteWithInstance"] is False
          and data["DataDisks"]["DataDisk"][1]["SnapshotId"] == "s-bp1demo0000000001",
          "DescribeLaunchTemplateVersions: DataDisks.DataDisk[] with typed Size and DeleteWithInstance")
    nics = data["NetworkInterfaces"]["NetworkInterface"]
    check(len(nics) == 2
          and nics[0]["SecurityGroupIds"]["SecurityGroupId"] == ["sg-bp1demoweb0000001", "sg-bp1extra000000001"]
          and nics[1]["SecurityGroupId"] == "sg-bp1extra000000001" and nics[1]["DeleteOnRelease"] is True,
          "DescribeLaunchTemplateVersions: NetworkInterfaces.NetworkInterface[] with SecurityGroupIds.SecurityGroupId[]")
    check(data["Tags"]["InstanceTag"] == [{"Key": "team", "Value": "web"}, {"Key": "tier", "Value": "front"}],
          "DescribeLaunchTemplateVersions: Tags.InstanceTag[] of Key and Value")
    check(data["UserData"] == user_data and base64.b64decode(data["UserData"]).startswith(bytes(range(256))),
          "DescribeLaunchTemplateVersions: UserData byte for byte")
    check(data["SecurityOptions"] == {"TrustedSystemMode": "vTPM"} and data["HttpTokens"] == "required"
          and data["SystemDisk.PerformanceLevel"] == "PL1" and data["SystemDisk.DeleteWithInstance"] is True
          and data["InternetMaxBandwidthOut"] == 0 and data["SpotPriceLimit"] == 0.98
          and data["DeletionProtection"] is True and data["PasswordInherit"] is False,
          "DescribeLaunchTemplateVersions: SecurityOptions, HttpTokens, SystemDisk.*, the numbers and booleans typed")

    req = CreateLaunchTemplateVersionRequest.CreateLaunchTemplateVersionRequest()
    req.set_LaunchTemplateId(template)
    for k, v in _template_query(data, alinux).items():
        req.add_query_param(k, v)
    check(call(c, req)["LaunchTemplateVersionNumber"] == 3, "a copy with a new image is version 3")
    copy = version(3)
    check(copy["ImageId"] == alinux and {k: v for k, v in copy.items() if k != "ImageId"}
          == {k: v for k, v in data.items() if k != "ImageId"},
          "the copy's LaunchTemplateData equals the source's but for ImageId")

    ess = client()
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_PageSize(50)
    group = next(g for g in call(ess, req)["ScalingGroups"]["ScalingGroup"]
                 if g["GroupType"] == "ECS" and g["ActiveScalingConfigurationId"])
    group_id, configuration = group["ScalingGroupId"], group["ActiveScalingConfigurationId"]
    check(group["LaunchTemplateId"] == "" and group["LaunchTemplateVersion"] == "",
          "DescribeScalingGroups: a configuration group has no LaunchTemplateId")

    req = ModifyScalingGroupRequest.ModifyScalingGroupRequest()
    req.set_ScalingGroupId(group_id)
    req.set_LaunchTemplateId(template)
    req.set_LaunchTemplateVersion("3")
    req.set_LaunchTemplateOverrides([{"InstanceType": "ecs.g7.xlarge", "WeightedCapacity": 2}])
    call(ess, req)
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_ScalingGroupIds([group_id])
    g = call(ess, req)["ScalingGroups"]["ScalingGroup"][0]
    check(g["LaunchTemplateId"] == template and g["LaunchTemplateVersion"] == "3"
          and g["LaunchTemplateOverrides"]["LaunchTemplateOverride"]
          == [{"InstanceType": "ecs.g7.xlarge", "WeightedCapacity": 2}]
          and g["ActiveScalingConfigurationId"] == "",
          "ModifyScalingGroup (LaunchTemplateId, LaunchTemplateVersion, LaunchTemplateOverride.N): DescribeScalingGroups reads them")
    req = ModifyScalingGroupRequest.ModifyScalingGroupRequest()
    req.set_ScalingGroupId(group_id)
    req.set_LaunchTemplateVersion("Latest")
    call(ess, req)
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_ScalingGroupIds([group_id])
    g = call(ess, req)["ScalingGroups"]["ScalingGroup"][0]
    check(g["LaunchTemplateId"] == template and g["LaunchTemplateVersion"] == "Latest",
          "ModifyScalingGroup: LaunchTemplateVersion Latest alone keeps the template")
    req = ModifyScalingGroupRequest.ModifyScalingGroupRequest()
    req.set_ScalingGroupId(group_id)
    req.set_LaunchTemplateVersion("9")
    err = error_of(ess, req)
    check(err is not None and err[:2] == (404, "InvalidLaunchTemplateVersion.NotFound"),
          "ModifyScalingGroup: a version the template lacks is InvalidLaunchTemplateVersion.NotFound (404)")
    req = ModifyScalingGroupRequest.ModifyScalingGroupRequest()
    req.set_ScalingGroupId(group_id)
    req.set_LaunchTemplateId("lt-doesnotexist")
    err = error_of(ess, req)
    check(err is not None and err[:2] == (404, "InvalidLaunchTemplate.NotFound"),
          "ModifyScalingGroup: an unknown template is InvalidLaunchTemplate.NotFound (404)")
    req = ModifyScalingGroupRequest.ModifyScalingGroupRequest()
    req.set_ScalingGroupId(group_id)
    req.set_ActiveScalingConfigurationId(configuration)
    call(ess, req)
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_ScalingGroupIds([group_id])
    g = call(ess, req)["ScalingGroups"]["ScalingGroup"][0]
    check(g["ActiveScalingConfigurationId"] == configuration and g["LaunchTemplateId"] == "",
          "ModifyScalingGroup: ActiveScalingConfigurationId gives the group its configuration back")


def sharing_conformance():
    """Image sharing and what keeps an image or a snapshot from being deleted: accounts added
    and removed, a community image, DeleteImage refusing a shared or published image,
    DeleteSnapshot refusing a snapshot an image holds (Force or not), Usage filters."""
    c = client()
    made = admin_post("images/custom", {"images": [{
        "image_name": "conformance-shared",
        "tags": [{"key": "reimage:managed", "value": "true"}],
        "snapshot_tags": [{"key": "reimage:managed", "value": "true"}],
        "age_seconds": 86400,
    }]})["images"][0]
    image, snapshot = made["image_id"], made["snapshot_id"]
    other = "1111222233334444"

    req = ModifyImageSharePermissionRequest.ModifyImageSharePermissionRequest()
    req.set_ImageId(image)
    req.set_AddAccounts([other, "5555666677778888"])
    check(set(call(c, req)) == {"RequestId"}, "ModifyImageSharePermission (AddAccount.N) answers only a RequestId")
    req = DescribeImageSharePermissionRequest.DescribeImageSharePermissionRequest()
    req.set_ImageId(image)
    req.set_PageSize(100)
    out = call(c, req)
    check(out["TotalCount"] == 2 and out["ImageId"] == image
          and [a["AliyunId"] for a in out["Accounts"]["Account"]] == [other, "5555666677778888"]
          and all(a["SharedTime"].endswith("Z") for a in out["Accounts"]["Account"])
          and out["ShareGroups"]["ShareGroup"] == [],
          "DescribeImageSharePermission: Accounts.Account[] (AliyunId, SharedTime), no ShareGroups")
    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageId(image)
    shown = call(c, req)["Images"]["Image"][0]
    check(shown["IsSelfShared"] == "True" and shown["IsPublic"] is False and shown["ImageOwnerAlias"] == "self",
          "DescribeImages: a shared image is IsSelfShared True, ImageOwnerAlias self")
    req = DeleteImageRequest.DeleteImageRequest()
    req.set_ImageId(image)
    req.set_Force(True)
    err = error_of(c, req)
    check(err is not None and err[:2] == (403, "ImageUseShared"),
          "DeleteImage (Force): a shared image is ImageUseShared (403)")
    req = ModifyImageSharePermissionRequest.ModifyImageSharePermissionRequest()
    req.set_ImageId(image)
    req.set_AddAccounts(["1234567890123456"])
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidAccount.Forbbiden"),
          "ModifyImageSharePermission: the account itself is InvalidAccount.Forbbiden (404)")
    req = ModifyImageSharePermissionRequest.ModifyImageSharePermissionRequest()
    req.set_ImageId(image)
    req.set_RemoveAccounts([other, "5555666677778888"])
    call(c, req)
    req = ModifyImageSharePermissionRequest.ModifyImageSharePermissionRequest()
    req.set_ImageId(image)
    req.set_IsPublic(True)
    call(c, req)
    req = DescribeImageSharePermissionRequest.DescribeImageSharePermissionRequest()
    req.set_ImageId(image)
    out = call(c, req)
    check(out["TotalCount"] == 0 and out["ShareGroups"]["ShareGroup"] == [{"Group": "all"}],
          "RemoveAccount.N unshares; IsPublic publishes (ShareGroups.ShareGroup[].Group all)")
    req = DeleteImageRequest.DeleteImageRequest()
    req.set_ImageId(image)
    err = error_of(c, req)
    check(err is not None and err[:2] == (403, "ImageIsPublic"),
          "DeleteImage: a community image is ImageIsPublic (403)")
    req = ModifyImageSharePermissionRequest.ModifyImageSharePermissionRequest()
    req.set_ImageId(image)
    req.set_IsPublic(False)
    call(c, req)
    err = error_of(c, req)
    check(err is not None and err[:2] == (403, "Image.NotPublic"),
          "ModifyImageSharePermission: unpublishing again is Image.NotPublic (403)")

    req = DescribeImagesRequest.DescribeImagesRequest()
    req.set_ImageOwnerAlias("self")
    req.set_Usage("none")
    req.set_Tags([{"Key": "reimage:managed", "Value": "true"}])
    req.set_Status("Available,CreateFailed")
    req.set_PageSize(100)
    out = call(c, req)
    check(image in [m["ImageId"] for m in out["Images"]["Image"]] and out["PageSize"] == 100
          and all(m["Usage"] == "none" for m in out["Images"]["Image"]),
          "DescribeImages (ImageOwnerAlias self, Usage none, Tag.N, Status list, PageSize 100)")
    req = DescribeSnapshotsRequest.DescribeSnapshotsRequest()
    req.set_SnapshotIds(json.dumps([snapshot]))
    s = call(c, req)["Snapshots"]["Snapshot"][0]
    check(s["Usage"] == "image" and s["Tags"]["Tag"] == [{"TagKey": "reimage:managed", "TagValue": "true"}]
          and s["CreationTime"].endswith("Z"),
          "DescribeSnapshots: Usage image, Tags.Tag[], CreationTime")
    req = DeleteSnapshotRequest.DeleteSnapshotRequest()
    req.set_SnapshotId(snapshot)
    req.set_Force(True)
    err = error_of(c, req)
    check(err is not None and err[:2] == (403, "SnapshotCreatedImage"),
          "DeleteSnapshot (Force): a snapshot an image holds is SnapshotCreatedImage (403)")
    req = DeleteImageRequest.DeleteImageRequest()
    req.set_ImageId(image)
    call(c, req)
    req = DescribeSnapshotsRequest.DescribeSnapshotsRequest()
    req.set_SnapshotIds(json.dumps([snapshot]))
    req.set_Usage("none")
    check(call(c, req)["TotalCount"] == 1, "DescribeSnapshots (Usage none): free once the image is deleted")
    req = DeleteSnapshotRequest.DeleteSnapshotRequest()
    req.set_SnapshotId(snapshot)
    call(c, req)
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidSnapshotId.NotFound"),
          "DeleteSnapshot deletes it; again is InvalidSnapshotId.NotFound (404)")


def slb_conformance():
    """The web group's Classic Load Balancer: weights and health as a rolling update reads and
    sets them. Runs before fleet_conformance and leaves every weight as the seed has it."""
    c = client()
    lb_id = "lb-bp1demoweb00000001"
    vsg_id = "rsp-bp1demoweb0001"
    group = "asg-bp1demoweb0000001"
    fleet = [f"i-bp1demofleet{n:07}" for n in range(1, 7)]

    def lb_weights():
        req = DescribeLoadBalancerAttributeRequest.DescribeLoadBalancerAttributeRequest()
        req.set_LoadBalancerId(lb_id)
        return {b["ServerId"]: b["Weight"] for b in call(c, req)["BackendServers"]["BackendServer"]}

    def vsg_weights():
        req = DescribeVServerGroupAttributeRequest.DescribeVServerGroupAttributeRequest()
        req.set_VServerGroupId(vsg_id)
        return {(b["ServerId"], b["Port"]): b["Weight"]
                for b in call(c, req)["BackendServers"]["BackendServer"]}

    # DescribeLoadBalancerAttribute
    req = DescribeLoadBalancerAttributeRequest.DescribeLoadBalancerAttributeRequest()
    req.set_LoadBalancerId(lb_id)
    out = call(c, req)
    backends = out["BackendServers"]["BackendServer"]
    check(out["LoadBalancerId"] == lb_id and out["LoadBalancerStatus"] == "active"
          and [int(p) for p in out["ListenerPorts"]["ListenerPort"]] == [80],
          "DescribeLoadBalancerAttribute: LoadBalancerId, LoadBalancerStatus active, ListenerPorts.ListenerPort")
    check([(b["ServerId"], b["Weight"], b["Type"]) for b in backends]
          == [(i, 80 if i == fleet[1] else 50, "ecs") for i in fleet],
          "DescribeLoadBalancerAttribute: BackendServers.BackendServer[] with integer weights (web-2 at 80)")
    req.set_LoadBalancerId("lb-doesnotexist")
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidLoadBalancerId.NotFound"),
          "DescribeLoadBalancerAttribute: an unknown load balancer is InvalidLoadBalancerId.NotFound (404)")

    # DescribeVServerGroupAttribute
    req = DescribeVServerGroupAttributeRequest.DescribeVServerGroupAttributeRequest()
    req.set_VServerGroupId(vsg_id)
    out = call(c, req)
    check(out["VServerGroupId"] == vsg_id and out["LoadBalancerId"] == lb_id
          and [(b["ServerId"], b["Port"], b["Weight"]) for b in out["BackendServers"]["BackendServer"]]
          == [(i, 8080, 50) for i in fleet],
          "DescribeVServerGroupAttribute: its load balancer and members with integer Port and Weight")
    req.set_VServerGroupId("rsp-doesnotexist")
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidParameter"),
          "DescribeVServerGroupAttribute: an unknown group is InvalidParameter (404)")

    # DescribeHealthStatus
    req = DescribeHealthStatusRequest.DescribeHealthStatusRequest()
    req.set_LoadBalancerId(lb_id)
    health = call(c, req)["BackendServers"]["BackendServer"]
    check(sorted((h["ListenerPort"], h["ServerId"], h["Port"]) for h in health)
          == sorted([(80, i, 80) for i in fleet] + [(80, i, 8080) for i in fleet])
          and all(h["ServerHealthStatus"] == "normal" for h in health),
          "DescribeHealthStatus: an entry per listener and backend (vServer group members too), all normal")
    req.set_ListenerPort(81)
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "ListenerNotFound"),
          "DescribeHealthStatus: a port without a listener is ListenerNotFound (404)")
    req = DescribeHealthStatusRequest.DescribeHealthStatusRequest()
    req.set_LoadBalancerId(lb_id)
    req.set_ListenerPort(80)
    image = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"
    admin_post(f"images/{image}/bad")
    try:
        health = call(c, req)["BackendServers"]["BackendServer"]
    finally:
        admin_post(f"images/{image}/bad", method="DELETE")
    check(len(health) == 12 and all(h["ServerHealthStatus"] == "abnormal" for h in health),
          "DescribeHealthStatus (ListenerPort): abnormal on an image marked bad")
    check(all(h["ServerHealthStatus"] == "normal" for h in call(c, req)["BackendServers"]["BackendServer"]),
          "DescribeHealthStatus: normal again once the image is good")

    # SetBackendServers: weights of the listed backends; the answer lists them all, Weight a string
    req = SetBackendServersRequest.SetBackendServersRequest()
    req.set_LoadBalancerId(lb_id)
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Weight": "30", "Type": "ecs"},
                                       {"ServerId": fleet[3], "Weight": 40}]))
    out = call(c, req)
    check(out["LoadBalancerId"] == lb_id
          and [(b["ServerId"], b["Weight"]) for b in out["BackendServers"]["BackendServer"]]
          == [(i, {1: "80", 2: "30", 3: "40"}.get(n, "50")) for n, i in enumerate(fleet)],
          "SetBackendServers (a JSON list, Weight string or number): sets the weights, answers every backend, Weight a string")
    check(lb_weights()[fleet[2]] == 30, "DescribeLoadBalancerAttribute shows the weight SetBackendServers set")
    req = SetBackendServersRequest.SetBackendServersRequest()
    req.set_LoadBalancerId("lb-doesnotexist")
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Weight": "50"}]))
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidLoadBalancerId.NotFound"),
          "SetBackendServers: an unknown load balancer is InvalidLoadBalancerId.NotFound (404)")
    req.set_LoadBalancerId(lb_id)
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Weight": "101"}]))
    err = error_of(c, req)
    check(err is not None and err[:2] == (400, "InvalidWeight.Malformed"),
          "SetBackendServers: a weight of 101 is InvalidWeight.Malformed (400)")
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Weight": "0"},
                                       {"ServerId": "i-bp1demoweb000000001", "Weight": "0"}]))
    err = error_of(c, req)
    check(err is not None and err[:2] == (400, "InvalidServerId.NotFound") and lb_weights()[fleet[2]] == 30,
          "SetBackendServers: a server that is not a backend is InvalidServerId.NotFound (400), nothing set")
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Weight": "50"},
                                       {"ServerId": fleet[3], "Weight": "50"}]))
    call(c, req)
    check(lb_weights() == {i: 80 if i == fleet[1] else 50 for i in fleet}, "SetBackendServers restores the weights")

    # SetVServerGroupAttribute: members by ServerId and Port; the answer's Weight an integer
    req = SetVServerGroupAttributeRequest.SetVServerGroupAttributeRequest()
    req.set_VServerGroupId(vsg_id)
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Port": 8080, "Weight": 20},
                                       {"ServerId": fleet[3], "Port": "8080", "Weight": "0"}]))
    out = call(c, req)
    got = {b["ServerId"]: (b["Port"], b["Weight"]) for b in out["BackendServers"]["BackendServer"]}
    check(out["VServerGroupId"] == vsg_id and got[fleet[2]] == (8080, 20) and got[fleet[3]] == (8080, 0)
          and got[fleet[0]] == (8080, 50),
          "SetVServerGroupAttribute (ServerId, Port, Weight): sets the weights, Port and Weight integers")
    check(vsg_weights()[(fleet[2], 8080)] == 20,
          "DescribeVServerGroupAttribute shows the weight SetVServerGroupAttribute set")
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Port": 8081, "Weight": 10}]))
    err = error_of(c, req)
    check(err is not None and err[:2] == (400, "InvalidServerId.NotFound"),
          "SetVServerGroupAttribute: a ServerId and Port not in the group is InvalidServerId.NotFound (400)")
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Port": 8080, "Weight": 101}]))
    err = error_of(c, req)
    check(err is not None and err[:2] == (400, "InvalidWeight.Malformed"),
          "SetVServerGroupAttribute: a weight of 101 is InvalidWeight.Malformed (400)")
    req.set_VServerGroupId("rsp-doesnotexist")
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Port": 8080, "Weight": 50}]))
    err = error_of(c, req)
    check(err is not None and err[:2] == (404, "InvalidParameter"),
          "SetVServerGroupAttribute: an unknown group is InvalidParameter (404)")
    req.set_VServerGroupId(vsg_id)
    req.set_BackendServers(json.dumps([{"ServerId": fleet[2], "Port": 8080, "Weight": 50},
                                       {"ServerId": fleet[3], "Port": 8080, "Weight": 50}]))
    call(c, req)
    check(vsg_weights() == {(i, 8080): 50 for i in fleet}, "SetVServerGroupAttribute restores the weights")

    # DescribeScalingGroups: the group's load balancer and vServer group
    req = DescribeScalingGroupsRequest.DescribeScalingGroupsRequest()
    req.set_ScalingGroupIds([group])
    g = call(c, req)["ScalingGroups"]["ScalingGroup"][0]
    vsgs = g["VServerGroups"]["VServerGroup"]
    check(g["LoadBalancerIds"]["LoadBalancerId"] == [lb_id] and len(vsgs) == 1 and vsgs[0]["LoadBalancerId"] == lb_id
          and vsgs[0]["VServerGroupAttributes"]["VServerGroupAttribute"]
          == [{"VServerGroupId": vsg_id, "Port": 8080, "Weight": 50}],
          "DescribeScalingGroups: LoadBalancerIds.LoadBalancerId, VServerGroups.VServerGroup[].VServerGroupAttributes")

    # EnterStandby / ExitStandby move the instance's weight in the load balancer and vServer group
    # (web-6: fleet_conformance uses web-1 and web-2, and web-3 as a healthy one).
    standby = fleet[5]
    req = EnterStandbyRequest.EnterStandbyRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds([standby])
    req.set_ClientToken("conformance-slb-standby")
    call(c, req)
    check(lb_weights()[standby] == 0 and vsg_weights()[(standby, 8080)] == 0
          and lb_weights()[fleet[1]] == 80,
          "EnterStandby: weight 0 in DescribeLoadBalancerAttribute and DescribeVServerGroupAttribute")
    req = ExitStandbyRequest.ExitStandbyRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds([standby])
    req.set_ClientToken("conformance-slb-exit")
    call(c, req)
    check(lb_weights()[standby] == 50 and vsg_weights()[(standby, 8080)] == 50,
          "ExitStandby: weight 50 in DescribeLoadBalancerAttribute and DescribeVServerGroupAttribute")
    req = DescribeScalingInstancesRequest.DescribeScalingInstancesRequest()
    req.set_ScalingGroupId(group)
    req.set_InstanceIds([standby])
    check([(m["LifecycleState"], m["LoadBalancerWeight"])
           for m in call(c, req)["ScalingInstances"]["ScalingInstance"]] == [("InService", 50)],
          "after ExitStandby the instance is InService at weight 50")


if __name__ == "__main__":
    main()
