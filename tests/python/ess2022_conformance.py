"""The official current ESS SDK (alibabacloud_ess20220222 on alibabacloud-tea-openapi),
unmodified, against a running sim: the six instance-refresh operations at 2022-02-22.

Signed with the SDK's default V3 signature (ACS3-HMAC-SHA256): StartInstanceRefresh (a desired
image, the healthy percentages, checkpoints, a checkpoint pause and a client token, replayed),
DescribeInstanceRefreshes by group and by task ids (the answer parsed into the SDK's models),
then Suspend, Resume, Rollback and Cancel each from a status that allows it and refused from
one that does not; an unknown group, an unknown task, a second refresh of a busy group and a
group with nothing left to refresh, each with its code and HTTP status. Then a wrong secret,
STS credentials (the x-acs-security-token header), and the legacy RPC signature
(signature_algorithm="v2") at the same version.

Environment: SIM_ENDPOINT (http://127.0.0.1:PORT), SIM_REGION, SIM_AK, SIM_SECRET,
SIM_ROLE_ARN, SIM_GROUP, SIM_CONFIGURATION, SIM_OLD_IMAGE (the active configuration's image),
SIM_NEW_IMAGE (another Available image). New instances boot in 60 s (POST /__sim/power) and
time moves with the admin clock (POST /__sim/clock/advance), so the script never sleeps. The
legacy aliyunsdkcore, -sts and -ess take the role, read the configuration and check that
2014-08-28 does not serve these operations. Prints one line per check and a final "ess2022 conformance: N checks passed".
"""

import json
import os
import sys
import urllib.request

import requests
from alibabacloud_ess20220222 import models as m
from alibabacloud_ess20220222.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from aliyunsdkess.request.v20140828 import DescribeScalingConfigurationsRequest
from aliyunsdksts.request.v20150401 import AssumeRoleRequest

ENDPOINT = os.environ["SIM_ENDPOINT"]
HOST = ENDPOINT.split("://", 1)[1]
PORT = int(ENDPOINT.rsplit(":", 1)[1])
REGION = os.environ["SIM_REGION"]
AK = os.environ["SIM_AK"]
SECRET = os.environ["SIM_SECRET"]
ROLE_ARN = os.environ["SIM_ROLE_ARN"]
GROUP = os.environ["SIM_GROUP"]
CONFIGURATION = os.environ["SIM_CONFIGURATION"]
OLD_IMAGE = os.environ["SIM_OLD_IMAGE"]
NEW_IMAGE = os.environ["SIM_NEW_IMAGE"]
BOOT_SECONDS = 60

CHECKS = 0

# The last request the SDK put on the wire, recorded (not altered) at requests' Session.send,
# which darabonba-core sends through: which signature it carried, and which headers.
SENT = []
_send = requests.Session.send


def _recording_send(self, request, **kwargs):
    SENT.append(request)
    return _send(self, request, **kwargs)


requests.Session.send = _recording_send


def check(cond, what):
    global CHECKS
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    CHECKS += 1
    print(f"ok: {what}")


def ess(**config):
    """A client of the sim: the SDK's endpoint is host:port and the protocol http."""
    config.setdefault("access_key_id", AK)
    config.setdefault("access_key_secret", SECRET)
    return Client(Config(region_id=REGION, endpoint=HOST, protocol="http", **config))


def error_of(call):
    try:
        call()
    except ClientException as e:
        return e.status_code, e.code
    return None


def admin(path, body):
    req = urllib.request.Request(
        f"{ENDPOINT}/__sim/{path}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def advance(seconds):
    admin("clock/advance", {"seconds": seconds})


def legacy(ak=AK, secret=SECRET):
    return AcsClient(ak, secret, REGION, port=PORT, auto_retry=False)


def legacy_call(c, req):
    req.set_endpoint("127.0.0.1")
    req.set_protocol_type("http")
    req.set_accept_format("JSON")
    return json.loads(c.do_action_with_exception(req))


def start_request(image, token=None, **kw):
    return m.StartInstanceRefreshRequest(
        region_id=REGION,
        scaling_group_id=GROUP,
        desired_configuration=m.StartInstanceRefreshRequestDesiredConfiguration(image_id=image),
        client_token=token,
        **kw,
    )


def task_request(task_id, group=GROUP):
    return dict(region_id=REGION, scaling_group_id=group, instance_refresh_task_id=task_id)


def suspend(c, task_id, group=GROUP):
    return c.suspend_instance_refresh(m.SuspendInstanceRefreshRequest(**task_request(task_id, group)))


def resume(c, task_id):
    return c.resume_instance_refresh(m.ResumeInstanceRefreshRequest(**task_request(task_id)))


def rollback(c, task_id):
    return c.rollback_instance_refresh(m.RollbackInstanceRefreshRequest(**task_request(task_id)))


def cancel(c, task_id):
    return c.cancel_instance_refresh(m.CancelInstanceRefreshRequest(**task_request(task_id)))


def describe(c, task_id):
    body = c.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, instance_refresh_task_ids=[task_id])
    ).body
    assert body.total_count == 1 and len(body.instance_refresh_tasks) == 1, body.to_map()
    return body.instance_refresh_tasks[0]


def refused(call):
    return error_of(call) == (400, "IncorrectInstanceRefreshTaskStatus")


def configuration_image():
    req = DescribeScalingConfigurationsRequest.DescribeScalingConfigurationsRequest()
    req.set_ScalingGroupId(GROUP)
    out = legacy_call(legacy(), req)
    found = out["ScalingConfigurations"]["ScalingConfiguration"]
    return next(c["ImageId"] for c in found if c["ScalingConfigurationId"] == CONFIGURATION)


def main():
    admin("power", {"stop_seconds": 0, "boot_seconds": BOOT_SECONDS, "replace_seconds": 0})
    c = ess()

    # STS first: its credentials expire with the sim's time, which the refreshes move along.
    sts_conformance(c)

    # Errors before anything runs.
    err = error_of(lambda: c.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id="asg-nosuchgroup0000")))
    check(err == (404, "InvalidScalingGroupId.NotFound"),
          f"DescribeInstanceRefreshes of an unknown group: ClientException 404 InvalidScalingGroupId.NotFound ({err})")
    err = error_of(lambda: c.start_instance_refresh(m.StartInstanceRefreshRequest(
        region_id=REGION, scaling_group_id="asg-nosuchgroup0000")))
    check(err == (404, "InvalidScalingGroupId.NotFound"),
          f"StartInstanceRefresh of an unknown group: 404 InvalidScalingGroupId.NotFound ({err})")
    err = error_of(lambda: suspend(c, "ir-nosuchtask0000"))
    check(err == (404, "InvalidInstanceRefreshTaskId.NotFound"),
          f"an unknown task: 404 InvalidInstanceRefreshTaskId.NotFound ({err})")
    empty = c.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id=GROUP)).body
    check(empty.total_count == 0 and empty.instance_refresh_tasks == [] and empty.request_id,
          "DescribeInstanceRefreshes of a group never refreshed: no tasks")

    # 1. A refresh onto NEW_IMAGE: three at a time (MaxHealthyPercentage 150 of 6), a
    # checkpoint at 50 %, suspended there, resumed, successful.
    first = dict(
        min_healthy_percentage=100,
        max_healthy_percentage=150,
        checkpoints=[m.StartInstanceRefreshRequestCheckpoints(percentage=50),
                     m.StartInstanceRefreshRequestCheckpoints(percentage=100)],
        checkpoint_pause_time=10,
    )
    resp = c.start_instance_refresh(start_request(NEW_IMAGE, "ess2022-conformance-1", **first))
    sent = SENT[-1]
    task1 = resp.body.instance_refresh_task_id
    check(resp.status_code == 200 and task1.startswith("ir-") and resp.body.request_id,
          f"StartInstanceRefresh answers an ir- task id ({task1})")
    check(sent.headers.get("Authorization", "").startswith("ACS3-HMAC-SHA256 Credential=" + AK)
          and "Action=" not in sent.url and "DesiredConfiguration.ImageId=" in sent.url
          and "Checkpoints.2.Percentage=100" in sent.url,
          "it went V3-signed (ACS3-HMAC-SHA256), the parameters flattened in the query")
    again = c.start_instance_refresh(start_request(NEW_IMAGE, "ess2022-conformance-1", **first))
    check(again.body.instance_refresh_task_id == task1,
          "the same ClientToken replayed answers the same task id")

    by_group = c.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id=GROUP)).body
    check(isinstance(by_group, m.DescribeInstanceRefreshesResponseBody) and by_group.total_count == 1
          and [t.instance_refresh_task_id for t in by_group.instance_refresh_tasks] == [task1],
          "DescribeInstanceRefreshes by group lists the task")
    t = by_group.instance_refresh_tasks[0]
    check(isinstance(t, m.DescribeInstanceRefreshesResponseBodyInstanceRefreshTasks)
          and (t.status, t.total_need_update_capacity, t.finished_update_capacity) == ("InProgress", 6, 0),
          f"Status InProgress, TotalNeedUpdateCapacity 6, FinishedUpdateCapacity 0 ({t.status}, "
          f"{t.total_need_update_capacity}, {t.finished_update_capacity})")
    check(all(isinstance(p, m.DescribeInstanceRefreshesResponseBodyInstanceRefreshTasksCheckpoints)
              for p in t.checkpoints) and [p.percentage for p in t.checkpoints] == [50, 100]
          and t.checkpoint_pause_time == 10,
          "Checkpoints parse into the SDK's model list (50, 100), CheckpointPauseTime 10")
    check(isinstance(t.desired_configuration,
                     m.DescribeInstanceRefreshesResponseBodyInstanceRefreshTasksDesiredConfiguration)
          and t.desired_configuration.image_id == NEW_IMAGE,
          "DesiredConfiguration.ImageId parses into the SDK's model")
    check((t.min_healthy_percentage, t.max_healthy_percentage, t.skip_matching) == (100, 150, True)
          and t.region_id == REGION and t.scaling_group_id == GROUP
          and t.start_time and t.start_time.endswith("Z") and t.end_time is None,
          "the task's percentages, SkipMatching, region, group, StartTime")

    err = error_of(lambda: c.start_instance_refresh(start_request(NEW_IMAGE)))
    check(err == (400, "IncorrectScalingGroupStatus"),
          f"a second refresh of the group while one runs: 400 IncorrectScalingGroupStatus ({err})")
    check(refused(lambda: resume(c, task1)),
          "ResumeInstanceRefresh of an InProgress task: ClientException 400 IncorrectInstanceRefreshTaskStatus")

    advance(BOOT_SECONDS + 1)
    t = describe(c, task1)
    check((t.status, t.finished_update_capacity) == ("CheckpointPause", 3),
          f"the first batch done: CheckpointPause at 50 %, FinishedUpdateCapacity 3 ({t.status}, "
          f"{t.finished_update_capacity})")
    suspend(c, task1)
    check(describe(c, task1).status == "Paused", "SuspendInstanceRefresh at a checkpoint: Paused")
    check(refused(lambda: suspend(c, task1)),
          "SuspendInstanceRefresh of a Paused task: 400 IncorrectInstanceRefreshTaskStatus")
    advance(3600)
    check(describe(c, task1).status == "Paused", "a suspended task waits past its checkpoint pause")
    resume(c, task1)
    check(describe(c, task1).status == "InProgress", "ResumeInstanceRefresh: InProgress")
    advance(BOOT_SECONDS + 1)
    t = describe(c, task1)
    check((t.status, t.finished_update_capacity, t.total_need_update_capacity) == ("Successful", 6, 6)
          and t.end_time and t.end_time.endswith("Z"),
          f"the second batch done: Successful, 6 of 6, EndTime set ({t.status}, {t.finished_update_capacity})")
    check(configuration_image() == NEW_IMAGE,
          "the active configuration took the desired image (the legacy 2014-08-28 SDK reads it)")
    for name, op in (("Suspend", suspend), ("Resume", resume), ("Rollback", rollback), ("Cancel", cancel)):
        check(refused(lambda: op(c, task1)),
              f"{name}InstanceRefresh of a Successful task: 400 IncorrectInstanceRefreshTaskStatus")
    err = error_of(lambda: c.start_instance_refresh(start_request(NEW_IMAGE)))
    check(err == (400, "InvalidInstance.NoInstanceNeedBeRefreshed"),
          f"every instance already on the image: 400 InvalidInstance.NoInstanceNeedBeRefreshed ({err})")

    # 2. Back onto OLD_IMAGE one at a time, rolled back after the first instance.
    task2 = c.start_instance_refresh(start_request(
        OLD_IMAGE, min_healthy_percentage=100, max_healthy_percentage=100)).body.instance_refresh_task_id
    advance(BOOT_SECONDS + 1)
    t = describe(c, task2)
    check((t.status, t.finished_update_capacity, t.total_need_update_capacity) == ("InProgress", 1, 6),
          f"one at a time when both percentages are 100 ({t.finished_update_capacity} of "
          f"{t.total_need_update_capacity})")
    rollback(c, task2)
    check(describe(c, task2).status == "RollbackInProgress",
          "RollbackInstanceRefresh of an InProgress task: RollbackInProgress")
    check(refused(lambda: suspend(c, task2)),
          "SuspendInstanceRefresh while rolling back: 400 IncorrectInstanceRefreshTaskStatus")
    check(refused(lambda: cancel(c, task2)),
          "CancelInstanceRefresh while rolling back: 400 IncorrectInstanceRefreshTaskStatus")
    advance(10 * BOOT_SECONDS)
    check(describe(c, task2).status == "RollbackSuccessful", "the rollback ends RollbackSuccessful")
    check(configuration_image() == NEW_IMAGE, "a rolled-back refresh leaves the configuration as it was")

    # 3. OLD_IMAGE again with SkipMatching False (the SDK sends "False"), two at a time (the
    # defaults, 80 % and 120 % of 6): suspended with a batch at work, resumed, cancelled with the
    # next batch at work, then the cancelled task rolled back.
    task3 = c.start_instance_refresh(start_request(
        OLD_IMAGE, "ess2022-conformance-3", skip_matching=False)).body.instance_refresh_task_id
    start_url = SENT[-1].url
    t = describe(c, task3)
    check("SkipMatching=False" in start_url and t.skip_matching is False
          and (t.min_healthy_percentage, t.max_healthy_percentage, t.checkpoint_pause_time) == (80, 120, 60)
          and t.checkpoints == [],
          "SkipMatching=False (Python's spelling) is read as false; the documented defaults")
    suspend(c, task3)
    check(describe(c, task3).status == "Paused", "SuspendInstanceRefresh of an InProgress task: Paused")
    advance(BOOT_SECONDS + 1)
    t = describe(c, task3)
    check((t.status, t.finished_update_capacity) == ("Paused", 2),
          f"the batch at work when suspended finishes and counts: Paused, 2 of 6 ({t.status}, "
          f"{t.finished_update_capacity})")
    resume(c, task3)
    cancel(c, task3)
    t = describe(c, task3)
    check(t.status == "Cancelling", f"CancelInstanceRefresh of an InProgress task: Cancelling ({t.status})")
    check(refused(lambda: resume(c, task3)),
          "ResumeInstanceRefresh of a Cancelling task: 400 IncorrectInstanceRefreshTaskStatus")
    advance(BOOT_SECONDS + 1)
    t = describe(c, task3)
    check((t.status, t.finished_update_capacity, t.total_need_update_capacity) == ("Cancelled", 4, 6)
          and t.end_time,
          f"the batch at work when cancelled finishes: Cancelled, 4 of 6 ({t.status}, "
          f"{t.finished_update_capacity})")
    rollback(c, task3)
    check(describe(c, task3).status == "RollbackInProgress",
          "RollbackInstanceRefresh of a Cancelled task: RollbackInProgress")
    advance(10 * BOOT_SECONDS)
    check(describe(c, task3).status == "RollbackSuccessful", "it ends RollbackSuccessful")

    both = c.describe_instance_refreshes(m.DescribeInstanceRefreshesRequest(
        region_id=REGION, instance_refresh_task_ids=[task1, task3])).body
    check(both.total_count == 2
          and sorted(x.instance_refresh_task_id for x in both.instance_refresh_tasks) == sorted([task1, task3])
          and {x.instance_refresh_task_id: x.status for x in both.instance_refresh_tasks}
          == {task1: "Successful", task3: "RollbackSuccessful"},
          "DescribeInstanceRefreshes by InstanceRefreshTaskIds (two) answers those two")
    page = c.describe_instance_refreshes(m.DescribeInstanceRefreshesRequest(
        region_id=REGION, scaling_group_id=GROUP, max_results=2)).body
    rest = c.describe_instance_refreshes(m.DescribeInstanceRefreshesRequest(
        region_id=REGION, scaling_group_id=GROUP, max_results=2, next_token=page.next_token)).body
    check(page.total_count == 3 and len(page.instance_refresh_tasks) == 2 and page.next_token
          and len(rest.instance_refresh_tasks) == 1 and not rest.next_token
          and {x.instance_refresh_task_id for x in page.instance_refresh_tasks + rest.instance_refresh_tasks}
          == {task1, task2, task3},
          "MaxResults and NextToken page through the group's three tasks")

    # The sim serves these operations at 2022-02-22 only (the legacy SDK's CommonRequest).
    req = CommonRequest(domain="127.0.0.1", version="2014-08-28", action_name="DescribeInstanceRefreshes")
    req.set_protocol_type("http")
    req.set_accept_format("JSON")
    req.add_query_param("RegionId", REGION)
    req.add_query_param("ScalingGroupId", GROUP)
    try:
        legacy().do_action_with_exception(req)
        err = None
    except ServerException as e:
        err = (e.get_http_status(), e.get_error_code())
    check(err == (404, "InvalidAction.NotFound"),
          f"DescribeInstanceRefreshes at 2014-08-28: 404 InvalidAction.NotFound ({err})")

    signature_conformance()
    print(f"ess2022 conformance: {CHECKS} checks passed")


def sts_conformance(c):
    req = AssumeRoleRequest.AssumeRoleRequest()
    req.set_RoleArn(ROLE_ARN)
    req.set_RoleSessionName("ess2022-conformance")
    req.set_DurationSeconds(900)
    creds = legacy_call(legacy(), req)["Credentials"]
    as_role = ess(access_key_id=creds["AccessKeyId"], access_key_secret=creds["AccessKeySecret"],
                  security_token=creds["SecurityToken"])
    out = as_role.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id=GROUP))
    sent = SENT[-1]
    signed = sent.headers.get("Authorization", "").split("SignedHeaders=", 1)[-1].split(",", 1)[0].split(";")
    check(out.status_code == 200 and sent.headers.get("x-acs-security-token") == creds["SecurityToken"]
          and "x-acs-security-token" in signed,
          "STS credentials (AssumeRole through aliyunsdksts): accepted with a signed x-acs-security-token")
    forged = ess(access_key_id=creds["AccessKeyId"], access_key_secret=creds["AccessKeySecret"],
                 security_token=creds["SecurityToken"] + "x")
    err = error_of(lambda: forged.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id=GROUP)))
    check(err is not None and err[0] == 400, f"the same credentials with another token are refused ({err})")


def signature_conformance():
    wrong = ess(access_key_secret=SECRET + "x")
    err = error_of(lambda: wrong.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id=GROUP)))
    check(err == (400, "SignatureDoesNotMatch"),
          f"a V3 request signed with a wrong secret: ClientException 400 SignatureDoesNotMatch ({err})")

    v2 = ess(signature_algorithm="v2")
    out = v2.describe_instance_refreshes(
        m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id=GROUP, max_results=50))
    sent = SENT[-1]
    check("Authorization" not in sent.headers and "SignatureMethod=HMAC-SHA1" in sent.url
          and "Version=2022-02-22" in sent.url,
          "signature_algorithm=\"v2\" sends the legacy RPC signature at 2022-02-22")
    check(out.status_code == 200 and out.body.total_count == 3
          and all(t.desired_configuration.image_id for t in out.body.instance_refresh_tasks),
          "the legacy RPC signature at 2022-02-22 is accepted; the answer parses the same")
    err = error_of(lambda: ess(signature_algorithm="v2", access_key_secret=SECRET + "x")
                   .describe_instance_refreshes(
                       m.DescribeInstanceRefreshesRequest(region_id=REGION, scaling_group_id=GROUP)))
    check(err == (400, "SignatureDoesNotMatch"),
          f"the legacy RPC signature with a wrong secret: 400 SignatureDoesNotMatch ({err})")


if __name__ == "__main__":
    main()
