#!/usr/bin/env python3
"""Structural checks of a template from `efs2s3 generate aws`.

Usage: check_cfn.py TEMPLATE.json BUCKET PREFIX [--ec2]
Checks that every Ref/GetAtt/Sub variable names a resource or parameter, that the
expected resources exist, and that the job role grants nothing beyond the
repository bucket/prefix, the KMS key, the file system (and, on EC2, the password
secret, the binary object, the log group and the failure topic). On Fargate, the
restore role only reads the repository (writing nothing but its locks) and mounts
the file system read-write through the access point.
"""
import json
import re
import sys

path, bucket, prefix = sys.argv[1:4]
ec2 = "--ec2" in sys.argv
t = json.load(open(path))
res, params = t["Resources"], t["Parameters"]
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
common = {"Schedule", "SchedulerRole", "JobRole", "LogGroup", "AccessPoint",
          "FailureTopic", "Bucket"}
need = common | ({"LaunchTemplate", "InstanceProfile"} if ec2 else
                 {"Cluster", "TaskDefinition", "ExecutionRole", "FailureRule",
                  "RestoreTaskDefinition", "RestoreRole"})
for r in need - set(res):
    errors.append("missing resource " + r)
b = res["Bucket"]["Properties"]
if "VersioningConfiguration" in b:
    errors.append("bucket must not enable versioning")
if not all(b["PublicAccessBlockConfiguration"].values()):
    errors.append("bucket public access block incomplete")
if "BucketEncryption" not in b:
    errors.append("bucket without default encryption")

# The job role: every statement is bounded.
stmts = res["JobRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
flat = []
for s in stmts:
    if "Fn::If" in s:
        flat.append(s["Fn::If"][1])
    else:
        flat.append(s)
allowed_actions = {
    "ListRepository": {"s3:ListBucket", "s3:ListBucketMultipartUploads"},
    "ReadWriteRepository": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                            "s3:AbortMultipartUpload"},
    "MountFileSystem": {"elasticfilesystem:ClientMount",
                        "elasticfilesystem:ClientRootAccess"},
    "RepositoryKey": {"kms:GenerateDataKey", "kms:Decrypt"},
    "RepositoryPassword": {"secretsmanager:GetSecretValue"},
    "Binary": {"s3:GetObject"},
    "Logs": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "NotifyFailure": {"sns:Publish"},
}
for s in flat:
    sid = s.get("Sid")
    if sid not in allowed_actions:
        errors.append("unexpected statement %r" % sid)
        continue
    if not ec2 and sid in ("RepositoryPassword", "Binary", "Logs", "NotifyFailure"):
        errors.append("Fargate role should not have " + sid)
    acts = set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    if not acts <= allowed_actions[sid] or any("*" in a for a in acts):
        errors.append("%s grants %s" % (sid, sorted(acts)))
    resource = json.dumps(s["Resource"])
    if '"*"' in resource:
        errors.append(sid + " on Resource *")
    if s["Effect"] != "Allow":
        errors.append(sid + " is not Allow")
    if sid == "ListRepository":
        if s["Condition"]["StringLike"]["s3:prefix"] != [prefix + "/*", prefix]:
            errors.append("ListBucket not limited to the prefix")
    if sid == "ReadWriteRepository":
        if s["Resource"] != {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/" + prefix + "/*"}:
            errors.append("object access beyond the prefix: " + resource)
    if sid == "MountFileSystem" and "file-system/${FileSystemId}" not in resource:
        errors.append("EFS access beyond the file system")
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
    rc = res["RestoreTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    if rc["MountPoints"][0]["ReadOnly"] is not False:
        errors.append("restore task mounts the file system read-only")
    jc = res["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    if jc["MountPoints"][0]["ReadOnly"] is not True:
        errors.append("backup task mounts the file system read-write")
if params["BucketName"]["Default"] != bucket:
    errors.append("bucket parameter default is not " + bucket)
# The scheduler role may only start this job.
for s in res["SchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
    if '"*"' in json.dumps(s["Resource"]):
        errors.append("scheduler statement on Resource *")
if errors:
    print("\n".join(errors))
    sys.exit(1)
print("ok")
