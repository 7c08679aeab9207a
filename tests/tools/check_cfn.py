#!/usr/bin/env python3
"""Structural checks of a template from `efs2s3 generate aws`.

Usage: check_cfn.py TEMPLATE.json BUCKET PREFIX [--ec2 | --shards N] [--no-missed-backup-alarm]
Checks that every Ref/GetAtt/Sub variable names a resource or parameter, that the
expected resources exist, and that the two job roles grant nothing beyond the
repository bucket/prefix, the KMS key, the file system (and, on EC2, the password
secret, the binary object, the log group and the failure topic): the backup role
no delete, retention or bucket right of any kind, the maintenance role no bypass
of a retention. Each schedule starts its part (--only backup / --only
maintenance) with its role. On Fargate, the restore role only reads the
repository (writing nothing but its locks) and mounts the file system
read-write through the access point.

Alerts: every failure reaches the topic FailureTopic, which is encrypted with
a key of the stack whose policy lets exactly EventBridge and CloudWatch use it
(never alias/aws/sns), or unencrypted by the EncryptFailureTopic parameter: a
task stopped with a non-zero exit code and a task that failed to start
(Fargate rules; on EC2 the instance publishes), a schedule that could not
start its target (dead-letter queue and an alarm on its depth, both
schedules), no successful backup within AlertAfterHours (an alarm on the
metric the backup emits, missing data breaching). No literal ID given on the
command line (fs-..., subnet, security group, bucket) appears outside the
parameters' defaults.

--shards N (AWS Batch): the schedule starts the state machine, which runs the
workers as an array job of N (the backup role, `--shard auto/N` with the run
ID from the execution's name) and then the merge (the merge role: the
backup's rights and the removal of snapshots only, `--merge RUN`); the
maintenance schedule submits the maintenance job. A failed job of the queue
(a worker, the merge, the maintenance) and an execution that failed, timed
out or was aborted reach the topic by their rules.
"""
import json
import re
import sys

path, bucket, prefix = sys.argv[1:4]
ec2 = "--ec2" in sys.argv
shards = int(sys.argv[sys.argv.index("--shards") + 1]) if "--shards" in sys.argv else 0
t = json.load(open(path))
res, params = t["Resources"], t["Parameters"]
job = re.match(r"efs2s3 backup job (\S+): ", t["Description"]).group(1)
names = set(res) | set(params) | {"AWS::Region", "AWS::AccountId", "AWS::Partition",
                                  "AWS::StackName", "AWS::NoValue", "AWS::URLSuffix"}
errors = []


def walk(node, fn):
    fn(node)
    if isinstance(node, dict):
        for v in node.values():
            walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            walk(v, fn)


def check_refs(node):
    if not isinstance(node, dict):
        return
    if "Ref" in node and node["Ref"] not in names:
        errors.append("Ref to unknown " + node["Ref"])
    if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] not in res:
        errors.append("GetAtt of unknown " + node["Fn::GetAtt"][0])
    if "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
            base = var.split(".")[0]
            if var not in names and base not in res and var not in local:
                errors.append("Sub variable unknown: " + var)


walk(t, check_refs)
common = {"Schedule", "MaintenanceSchedule", "SchedulerRole", "BackupRole",
          "MaintenanceRole", "LogGroup", "AccessPoint", "FailureTopic", "Bucket"}
batch = {"ComputeEnvironment", "JobQueue", "ShardJobDefinition", "MergeJobDefinition",
         "MaintenanceJobDefinition", "RestoreJobDefinition", "StateMachine",
         "StateMachineRole", "MergeRole", "ExecutionRole", "RestoreRole",
         "BatchFailureRule", "ExecutionFailureRule"}
need = common | (batch if shards else
                 {"LaunchTemplate", "MaintenanceLaunchTemplate", "InstanceProfile",
                  "MaintenanceInstanceProfile"} if ec2 else
                 {"Cluster", "TaskDefinition", "MaintenanceTaskDefinition",
                  "ExecutionRole", "FailureRule", "RestoreTaskDefinition",
                  "RestoreRole"})
for r in need - set(res):
    errors.append("missing resource " + r)
if "JobRole" in res:
    errors.append("JobRole (backup and delete in one role) is still there")
b = res["Bucket"]["Properties"]
if "VersioningConfiguration" in b:
    errors.append("bucket must not enable versioning")
if not all(b["PublicAccessBlockConfiguration"].values()):
    errors.append("bucket public access block incomplete")
if "BucketEncryption" not in b:
    errors.append("bucket without default encryption")


def statements(role):
    stmts = res[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in stmts]


def actions(s):
    return set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])


objects = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/" + prefix + "/*"}
ec2_only = {
    # PasswordSecretArn: a Secrets Manager secret or an SSM SecureString, and
    # the customer-managed key it is encrypted with (HasPasswordKey).
    "RepositoryPassword": {"secretsmanager:GetSecretValue", "ssm:GetParameter",
                           "ssm:GetParameters"},
    "PasswordKey": {"kms:Decrypt"},
    "Binary": {"s3:GetObject"},
    # The CloudWatch agent streams the log while the job runs.
    "Logs": {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
    "NotifyFailure": {"sns:Publish"},
    "FailureTopicKey": {"kms:GenerateDataKey", "kms:Decrypt"},
}


def check_role(role, allowed_actions, object_sids):
    """Every statement of the role is one of allowed_actions (by Sid), bounded."""
    allowed = dict(allowed_actions, **(ec2_only if ec2 else {}))
    for s in statements(role):
        sid = s.get("Sid")
        if sid not in allowed:
            errors.append("%s: unexpected statement %r" % (role, sid))
            continue
        acts = actions(s)
        if not acts <= allowed[sid] or any("*" in a for a in acts):
            errors.append("%s: %s grants %s" % (role, sid, sorted(acts)))
        resource = json.dumps(s["Resource"])
        if '"*"' in resource:
            errors.append("%s: %s on Resource *" % (role, sid))
        if s["Effect"] != "Allow":
            errors.append("%s: %s is not Allow" % (role, sid))
        if sid.startswith("ListRepository"):
            if s["Condition"]["StringLike"]["s3:prefix"] != [prefix + "/*", prefix]:
                errors.append(role + ": listing not limited to the prefix")
        if sid in object_sids and s["Resource"] != objects:
            errors.append("%s: object access beyond the prefix: %s" % (role, resource))
        if sid == "MountFileSystem" and "file-system/${FileSystemId}" not in resource:
            errors.append(role + ": EFS access beyond the file system")
    return set().union(*(actions(s) for s in statements(role)))


def forbidden(granted, patterns):
    return sorted(a for a in granted for p in patterns if re.fullmatch(p, a))


# The backup role writes the repository and deletes nothing: a stolen backup
# credential cannot remove history, shorten a retention or change the bucket.
backup = check_role("BackupRole", {
    "ListRepository": {"s3:ListBucket", "s3:ListBucketMultipartUploads"},
    "WriteRepository": {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"},
    # AWS checks s3:PutObjectRetention on a PUT that carries a retention; it
    # cannot shorten one.
    "SetRetentionOnWrite": {"s3:PutObjectRetention"},
    "MountFileSystem": {"elasticfilesystem:ClientMount",
                        "elasticfilesystem:ClientRootAccess"},
    "RepositoryKey": {"kms:GenerateDataKey", "kms:Decrypt"},
}, {"WriteRepository", "SetRetentionOnWrite"})
for a in forbidden(backup, [r"s3:Delete.*", r"s3:GetObjectRetention",
                            r"s3:Bypass.*", r"s3:PutBucket.*",
                            r"s3:PutObjectLegalHold", r"s3:PutLifecycle.*"]):
    errors.append("BackupRole grants " + a)
# The maintenance role deletes and extends retentions, but cannot bypass one.
maintenance = check_role("MaintenanceRole", {
    "ListRepository": {"s3:ListBucket", "s3:ListBucketMultipartUploads"},
    "ListRepositoryVersions": {"s3:ListBucketVersions"},
    "MaintainRepository": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                           "s3:AbortMultipartUpload"},
    "RepositoryVersions": {"s3:GetObjectVersion", "s3:DeleteObjectVersion"},
    "RepositoryRetention": {"s3:GetObjectRetention", "s3:PutObjectRetention"},
    "RepositoryKey": {"kms:GenerateDataKey", "kms:Decrypt"},
}, {"MaintainRepository", "RepositoryVersions", "RepositoryRetention"})
for a in forbidden(maintenance, [r"s3:Bypass.*", r"s3:PutBucket.*",
                                 r"elasticfilesystem:.*"]):
    errors.append("MaintenanceRole grants " + a)
for a in ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions",
          "s3:GetObjectVersion", "s3:PutObjectRetention", "s3:GetObjectRetention"]:
    if a not in maintenance:
        errors.append("MaintenanceRole lacks " + a)

# The merge (--shards): the backup's rights, and it removes the workers'
# partial snapshots, nothing else.
if shards:
    merge = check_role("MergeRole", {
        "ListRepository": {"s3:ListBucket", "s3:ListBucketMultipartUploads"},
        "WriteRepository": {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"},
        "SetRetentionOnWrite": {"s3:PutObjectRetention"},
        "RemoveShardSnapshots": {"s3:DeleteObject"},
        "MountFileSystem": {"elasticfilesystem:ClientMount",
                            "elasticfilesystem:ClientRootAccess"},
        "RepositoryKey": {"kms:GenerateDataKey", "kms:Decrypt"},
    }, {"WriteRepository", "SetRetentionOnWrite"})
    for s in statements("MergeRole"):
        if "s3:DeleteObject" in actions(s) and s["Resource"] != {
                "Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/" + prefix + "/snapshots/*"}:
            errors.append("MergeRole deletes beyond the snapshots: %s" % json.dumps(s["Resource"]))
    for a in forbidden(merge, [r"s3:DeleteObjectVersion", r"s3:Bypass.*", r"s3:PutBucket.*"]):
        errors.append("MergeRole grants " + a)


def job_definition(name, role, pattern, mount):
    """The Batch job definition runs `pattern` with role, mounting as asked."""
    c = res[name]["Properties"]["ContainerProperties"]
    if c["JobRoleArn"] != {"Fn::GetAtt": [role, "Arn"]}:
        errors.append("%s runs with %s, not %s" % (name, c["JobRoleArn"], role))
    if not re.search(pattern, c["Command"][-1]):
        errors.append("%s runs %r, not %s" % (name, c["Command"], pattern))
    mounts = [m["ReadOnly"] for m in c.get("MountPoints", [])]
    if mounts != mount:
        errors.append("%s mounts %s, expected %s" % (name, mounts, mount))
    return c


# Each schedule starts its part with its role: the backup with --only backup
# and the backup role, the maintenance with --only maintenance and the
# maintenance role.
for schedule, part, expression, role, runner in [
        ("Schedule", "backup", "ScheduleExpression", "BackupRole",
         "LaunchTemplate" if ec2 else "TaskDefinition"),
        ("MaintenanceSchedule", "maintenance", "MaintenanceScheduleExpression",
         "MaintenanceRole",
         "MaintenanceLaunchTemplate" if ec2 else "MaintenanceTaskDefinition")]:
    p = res[schedule]["Properties"]
    if p["ScheduleExpression"] != {"Ref": expression}:
        errors.append("%s does not use %s" % (schedule, expression))
    target = p["Target"]
    if shards:
        continue
    if ec2:
        if "${%s}" % runner not in json.dumps(target["Input"]):
            errors.append("%s does not start %s" % (schedule, runner))
        data = res[runner]["Properties"]["LaunchTemplateData"]
        profile = data["IamInstanceProfile"]["Arn"]["Fn::GetAtt"][0]
        if res[profile]["Properties"]["Roles"] != [{"Ref": role}]:
            errors.append("%s runs with %s, not %s" % (schedule, profile, role))
        command = data["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    else:
        if target["EcsParameters"]["TaskDefinitionArn"] != {"Ref": runner}:
            errors.append("%s does not start %s" % (schedule, runner))
        td = res[runner]["Properties"]
        if td["TaskRoleArn"] != {"Fn::GetAtt": [role, "Arn"]}:
            errors.append("%s runs with %s, not %s" % (schedule, td["TaskRoleArn"], role))
        command = td["ContainerDefinitions"][0]["Command"][0]
    line = [l for l in command.splitlines() if " job run " in l]
    if len(line) != 1 or not re.search(
            r"efs2s3 job run \S+ --config \S+ --only %s( |$)" % part, line[0]):
        errors.append("%s runs %r, not --only %s" % (schedule, line, part))
if shards:
    # The backup: the schedule starts the state machine; it runs the workers
    # as one array job, then the merge, both with the execution's name as run.
    if res["Schedule"]["Properties"]["Target"]["Arn"] != {"Ref": "StateMachine"}:
        errors.append("Schedule does not start the state machine")
    sm = res["StateMachine"]["Properties"]
    if sm["RoleArn"] != {"Fn::GetAtt": ["StateMachineRole", "Arn"]}:
        errors.append("StateMachine does not run with StateMachineRole")
    text = sm["DefinitionString"]["Fn::Sub"]
    if '"TimeoutSeconds":${RunTimeoutSeconds}' not in text:
        errors.append("the run has no timeout")
    d = json.loads(text.replace("${RunTimeoutSeconds}", "3600"))
    run_id = [{"Name": "EFS2S3_RUN_ID", "Value.$": "$$.Execution.Name"}]
    state = d["States"].get(d["StartAt"], {})
    for name, definition in [("Shards", "ShardJobDefinition"), ("Merge", "MergeJobDefinition")]:
        st = d["States"].get(name, {})
        p = st.get("Parameters", {})
        if st.get("Resource") != "arn:${AWS::Partition}:states:::batch:submitJob.sync" or \
                p.get("JobQueue") != "${JobQueue}" or \
                p.get("JobDefinition") != "${%s}" % definition or \
                p.get("ContainerOverrides", {}).get("Environment") != run_id:
            errors.append("state %s does not run %s with the run ID and wait for it" % (name, definition))
    if d["StartAt"] != "Shards" or state.get("Next") != "Merge" or \
            not d["States"].get("Merge", {}).get("End"):
        errors.append("the state machine does not run the workers, then the merge")
    if state.get("Parameters", {}).get("ArrayProperties") != {"Size": shards}:
        errors.append("the workers are not an array job of %d" % shards)
    job_definition("ShardJobDefinition", "BackupRole",
                   r'efs2s3 job run \S+ --config \S+ --shard auto/%d --run-id "\$EFS2S3_RUN_ID"$' % shards,
                   [True])
    merge_job = job_definition("MergeJobDefinition", "MergeRole",
                               r'efs2s3 job run \S+ --config \S+ --merge "\$EFS2S3_RUN_ID" --only backup$',
                               [True])
    job_definition("MaintenanceJobDefinition", "MaintenanceRole",
                   r"efs2s3 job run \S+ --config \S+ --only maintenance$", [])
    job_definition("RestoreJobDefinition", "RestoreRole", r"^snapshots$", [False])
    mt = res["MaintenanceSchedule"]["Properties"]["Target"]
    if mt["Arn"] != "arn:aws:scheduler:::aws-sdk:batch:submitJob" or \
            json.loads(mt["Input"]["Fn::Sub"]).get("JobDefinition") != "${MaintenanceJobDefinition}":
        errors.append("MaintenanceSchedule does not submit the maintenance job")
    ce = res["ComputeEnvironment"]["Properties"]
    if ce["ComputeResources"]["Type"] != "FARGATE":
        errors.append("the compute environment is not Fargate")
    jq = res["JobQueue"]["Properties"]["ComputeEnvironmentOrder"]
    if [o["ComputeEnvironment"] for o in jq] != [{"Ref": "ComputeEnvironment"}]:
        errors.append("the job queue does not use the compute environment")
# The restore role (Fargate): reads the repository, writes only its locks.
if not ec2:
    restore_actions = {
        "ListRepository": {"s3:ListBucket", "s3:ListBucketMultipartUploads"},
        "ReadRepository": {"s3:GetObject"},
        "RepositoryLocks": {"s3:PutObject", "s3:DeleteObject"},
        "MountFileSystemReadWrite": {"elasticfilesystem:ClientMount",
                                     "elasticfilesystem:ClientWrite",
                                     "elasticfilesystem:ClientRootAccess"},
        "RepositoryKey": {"kms:GenerateDataKey", "kms:Decrypt"},
    }
    rstmts = res["RestoreRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for s in rstmts:
        s = s["Fn::If"][1] if "Fn::If" in s else s
        sid = s.get("Sid")
        acts = set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        if sid not in restore_actions or not acts <= restore_actions[sid]:
            errors.append("restore role: unexpected %r %s" % (sid, sorted(acts)))
            continue
        resource = json.dumps(s["Resource"])
        if '"*"' in resource:
            errors.append("restore role: %s on Resource *" % sid)
        if sid == "RepositoryLocks" and s["Resource"] != {
                "Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/" + prefix + "/locks/*"}:
            errors.append("restore role writes beyond the locks: " + resource)
        if sid == "ReadRepository" and s["Resource"] != {
                "Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/" + prefix + "/*"}:
            errors.append("restore role reads beyond the prefix: " + resource)
        if sid.startswith("MountFileSystem") and "AccessPointArn" not in json.dumps(s["Condition"]):
            errors.append("restore role mounts without the access point")
if not ec2 and not shards:
    rc = res["RestoreTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    if rc["MountPoints"][0]["ReadOnly"] is not False:
        errors.append("restore task mounts the file system read-only")
    jc = res["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    if jc["MountPoints"][0]["ReadOnly"] is not True:
        errors.append("backup task mounts the file system read-write")
    mt = res["MaintenanceTaskDefinition"]["Properties"]
    if mt.get("Volumes") or mt["ContainerDefinitions"][0]["MountPoints"]:
        errors.append("maintenance task mounts the file system")
if params["BucketName"]["Default"] != bucket:
    errors.append("bucket parameter default is not " + bucket)
# The scheduler role may only start this job.
for s in res["SchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
    if '"*"' in json.dumps(s["Resource"]):
        errors.append("scheduler statement on Resource *")

# ---- Alerts: every failure mode has a path to the topic.
def check_alerts():
    def get_att(r, a="Arn"):
        return {"Fn::GetAtt": [r, a]}


    topic = {"Ref": "FailureTopic"}
    if "alias/aws/sns" in json.dumps(t):
        errors.append("alias/aws/sns: EventBridge cannot publish to such a topic")
    if res["FailureTopic"]["Properties"].get("KmsMasterKeyId") != {
            "Fn::If": ["EncryptTopic", get_att("FailureTopicKey"), {"Ref": "AWS::NoValue"}]}:
        errors.append("FailureTopic is not encrypted with FailureTopicKey (or not by choice)")
    if t["Conditions"].get("EncryptTopic") != {"Fn::Equals": [{"Ref": "EncryptFailureTopic"}, "true"]}:
        errors.append("EncryptTopic does not follow EncryptFailureTopic")
    key = res.get("FailureTopicKey", {})
    if key.get("Type") != "AWS::KMS::Key" or key.get("Condition") != "EncryptTopic":
        errors.append("FailureTopicKey is not a conditional KMS key")
    else:
        ks = key["Properties"]["KeyPolicy"]["Statement"]
        users = [s for s in ks if "Service" in s["Principal"]]
        admins = [s for s in ks if "AWS" in s["Principal"]]
        if len(users) != 1 or users[0]["Principal"]["Service"] != "events.amazonaws.com":
            errors.append("key policy: the publisher is not exactly EventBridge")
        elif sorted(users[0]["Action"]) != ["kms:Decrypt", "kms:GenerateDataKey"]:
            errors.append("key policy: publishers may %s" % users[0]["Action"])
        if len(admins) != 1 or admins[0]["Principal"]["AWS"] != {
                "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}:
            errors.append("key policy: administration is not the account's root alone")
        if len(ks) != 2:
            errors.append("key policy: %d statements, expected 2" % len(ks))
    publishers = {}
    tp = res["FailureTopicPolicy"]["Properties"]
    if tp["Topics"] != [topic]:
        errors.append("FailureTopicPolicy is not on FailureTopic")
    for s in tp["PolicyDocument"]["Statement"]:
        if s["Action"] != "sns:Publish" or s["Resource"] != topic:
            errors.append("topic policy statement %s" % s.get("Sid"))
        publishers[s["Principal"]["Service"]] = s["Condition"]["ArnEquals"]["aws:SourceArn"]
    # Each alarm: no JSON of its own to the topic, a rule that turns its
    # state changes into a message naming the job.
    alarm_rules = []
    for name, alarm in res.items():
        if alarm["Type"] != "AWS::CloudWatch::Alarm":
            continue
        if any(k in alarm["Properties"] for k in
               ("AlarmActions", "OKActions", "InsufficientDataActions")):
            errors.append(name + ": the alarm publishes its own JSON")
        routes = [n for n, r in res.items() if r["Type"] == "AWS::Events::Rule" and
                  r["Properties"]["EventPattern"].get("resources") == [get_att(name)]]
        if len(routes) != 1:
            errors.append(name + ": no rule carries its state changes to the topic")
            continue
        rule = res[routes[0]]["Properties"]
        target = rule["Targets"][0]
        text = target.get("InputTransformer", {}).get("InputTemplate", {}).get("Fn::Sub", "")
        if rule["EventPattern"].get("detail-type") != ["CloudWatch Alarm State Change"] or \
                target["Arn"] != topic or \
                not text.startswith('"efs2s3 job ' + job + ' (stack ${AWS::StackName}): ') or \
                "<reason>" not in text:
            errors.append(routes[0] + ": not a readable message of " + name + " to the topic")
        alarm_rules.append(get_att(routes[0]))
    if ec2:
        rules = []
    elif shards:
        rules = [get_att("BatchFailureRule"), get_att("ExecutionFailureRule")]
    else:
        rules = [get_att("FailureRule"), get_att("StartFailureRule")]
    if publishers != {"events.amazonaws.com": rules + alarm_rules}:
        errors.append("topic policy: the publishers are not exactly the stack's rules")
    if ec2:
        for role in ("BackupRole", "MaintenanceRole"):
            sids = {s.get("Sid"): s for s in statements(role)}
            if sids.get("NotifyFailure", {}).get("Resource") != topic:
                errors.append(role + ": the instance cannot publish to the topic")
            if sids.get("FailureTopicKey", {}).get("Resource") != get_att("FailureTopicKey"):
                errors.append(role + ": the instance cannot use the topic's key")
    elif shards:
        # The Batch rules are among the publishers checked above.
        br = res["BatchFailureRule"]["Properties"]
        if br["Targets"][0]["Arn"] != topic or br["EventPattern"] != {
                "source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
                "detail": {"status": ["FAILED"], "jobQueue": [{"Ref": "JobQueue"}]}}:
            errors.append("BatchFailureRule: a failed worker or merge does not reach the topic")
        er = res["ExecutionFailureRule"]["Properties"]
        if er["Targets"][0]["Arn"] != topic or er["EventPattern"] != {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"],
                           "stateMachineArn": [{"Ref": "StateMachine"}]}}:
            errors.append("ExecutionFailureRule: a failed or timed-out run does not reach the topic")
    else:
        cluster = [get_att("Cluster")]
        fr = res["FailureRule"]["Properties"]
        d = fr["EventPattern"]["detail"]
        if fr["Targets"][0]["Arn"] != topic or d.get("clusterArn") != cluster or \
                d.get("lastStatus") != ["STOPPED"] or \
                d.get("containers") != {"exitCode": [{"anything-but": 0}]}:
            errors.append("FailureRule: a non-zero exit does not reach the topic")
        sr = res["StartFailureRule"]["Properties"]
        d = sr["EventPattern"]["detail"]
        if sr["Targets"][0]["Arn"] != topic or d.get("clusterArn") != cluster or \
                d.get("lastStatus") != ["STOPPED"] or \
                {"stopCode": ["TaskFailedToStart"]} not in d.get("$or", []):
            errors.append("StartFailureRule: a task that failed to start does not reach the topic")
    # Both schedules: retries, then the dead-letter queue; its depth alarms.
    for schedule in ("Schedule", "MaintenanceSchedule"):
        target = res[schedule]["Properties"]["Target"]
        if target.get("DeadLetterConfig") != {"Arn": get_att("ScheduleDeadLetterQueue")}:
            errors.append(schedule + " has no dead-letter queue")
    if res["ScheduleDeadLetterQueue"]["Type"] != "AWS::SQS::Queue":
        errors.append("ScheduleDeadLetterQueue is not a queue")
    sched = res["SchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    if not any(s["Action"] == ["sqs:SendMessage"] and
               s["Resource"] == get_att("ScheduleDeadLetterQueue") for s in sched):
        errors.append("SchedulerRole cannot send to the dead-letter queue")
    qp = res["ScheduleDeadLetterQueuePolicy"]["Properties"]
    if qp["Queues"] != [{"Ref": "ScheduleDeadLetterQueue"}] or \
            qp["PolicyDocument"]["Statement"][0]["Principal"] != {"AWS": get_att("SchedulerRole")}:
        errors.append("the queue policy does not let the scheduler's role send")
    dla = res["ScheduleFailureAlarm"]["Properties"]
    if (dla["Namespace"], dla["MetricName"], dla["ComparisonOperator"], dla["Threshold"]) != (
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "GreaterThanThreshold", 0) or \
            dla["Dimensions"] != [{"Name": "QueueName",
                                   "Value": get_att("ScheduleDeadLetterQueue", "QueueName")}]:
        errors.append("ScheduleFailureAlarm does not alarm the topic on a dead letter")
    # No successful backup within AlertAfterHours.
    if "--no-missed-backup-alarm" not in sys.argv:
        mb = res.get("MissedBackupAlarm", {}).get("Properties", {})
        want = {"Namespace": "efs2s3", "MetricName": "BackupSucceeded",
                "Dimensions": [{"Name": "Job", "Value": mb.get("Dimensions", [{}])[0].get("Value")},
                               {"Name": "Stack", "Value": {"Ref": "AWS::StackName"}}],
                "TreatMissingData": "breaching", "ComparisonOperator": "LessThanThreshold",
                "Threshold": 1, "Period": 3600,
                "EvaluationPeriods": {"Ref": "AlertAfterHours"},
                "DatapointsToAlarm": {"Ref": "AlertAfterHours"}}
        for k, v in want.items():
            if mb.get(k) != v:
                errors.append("MissedBackupAlarm: %s is %r, not %r" % (k, mb.get(k), v))
        # The backup run emits the metric with the alarm's dimensions.
        if ec2:
            ud = res["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
            emits = ("export EFS2S3_METRICS=emf\nexport EFS2S3_METRICS_DIMENSIONS="
                     "Stack=${AWS::StackName}\n") in json.loads(json.dumps(ud))["Fn::Base64"]["Fn::Sub"][0]
        else:
            env = res["MergeJobDefinition"]["Properties"]["ContainerProperties"]["Environment"] \
                if shards else \
                res["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]
            emits = {"Name": "EFS2S3_METRICS", "Value": "emf"} in env and {
                "Name": "EFS2S3_METRICS_DIMENSIONS",
                "Value": {"Fn::Sub": "Stack=${AWS::StackName}"}} in env
        if not emits:
            errors.append("the backup does not emit BackupSucceeded with the Stack dimension")


try:
    check_alerts()
except KeyError as e:
    errors.append("alert path incomplete: no %s" % e)

# ---- No literal IDs outside the parameters' defaults.
# The bucket name may be an ordinary word ("backups"): only as a bucket.
b = params["BucketName"]["Default"]
literal = [params["FileSystemId"]["Default"], "s3:::" + b, "s3://" + b] + \
    params["Subnets"]["Default"].split(",") + params["SecurityGroups"]["Default"].split(",")


def check_literals(node, path):
    if isinstance(node, str):
        for v in literal:
            if v and v in node or node == b:
                errors.append("literal %s at %s" % (v, path))
        if re.search(r"fs-[0-9a-f]{8}", node):
            errors.append("a file system ID at %s" % path)
    elif isinstance(node, dict):
        for k, v in node.items():
            if not (path.startswith("/Parameters/") and k == "Default"):
                check_literals(v, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_literals(v, "%s/%d" % (path, i))


check_literals(t, "")
if errors:
    print("\n".join(errors))
    sys.exit(1)
print("ok")
