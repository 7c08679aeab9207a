#!/usr/bin/env python3
"""Deploys a `generate aws` template to moto_server and waits for the stack.

  moto_deploy.py ENDPOINT TEMPLATE STACK [NAME=VALUE ...]

moto checks that security groups, VPCs and route tables exist: the script
creates a VPC with a route table, a subnet and two security groups, and a VALUE
of @vpc, @rtb, @subnet, @task-sg or @sg (the mount targets' group) stands for
their IDs (AWS Batch checks that its subnets exist).

moto's CloudFormation lacks some of what the template uses. Each gap is worked
around here, by name, on a copy of the template (the generated file is not
changed); anything else moto refuses fails the test:

  GAP-ACCESS-POINT-ARN  moto's EFS AccessPoint has no Fn::GetAtt attributes
                        (AttributeError: get_cfn_attribute): GetAtt
                        AccessPoint.Arn becomes the ARN it would return, built
                        with Fn::Sub from Ref AccessPoint.
  GAP-IGNORED-TYPES     moto creates no AWS::CloudWatch::Alarm,
                        AWS::SNS::TopicPolicy, AWS::SQS::QueuePolicy or
                        AWS::Scheduler::Schedule ("references undefined
                        resource"): a GetAtt X.Arn of one (the topic policy
                        and the dashboard name the alarms) becomes the ARN it
                        would have; the resources stay in the template, and
                        the test lists which of them moto did not create.
  GAP-BATCH-SERVICE-ROLE  moto's AWS::Batch::ComputeEnvironment requires
                        ServiceRole (KeyError), which AWS makes optional (the
                        service-linked role AWSServiceRoleForBatch), and a
                        role that exists: the script creates that role and
                        the copy names it.
  GAP-ECR-NAME          moto names an AWS::ECR::Repository without a
                        RepositoryName after the stack and the logical ID,
                        capitals included, and then refuses that name
                        (CloudFormation makes it lowercase): the copy names it.

Prints the final status and, when it is not CREATE_COMPLETE, the failed
resources; exits 0 only on CREATE_COMPLETE.
"""
import json
import sys
import time

import boto3

endpoint, template_path, stack = sys.argv[1:4]
params = dict(a.split("=", 1) for a in sys.argv[4:])


def access_point_arn(node):
    """GAP-ACCESS-POINT-ARN."""
    if isinstance(node, dict):
        if node == {"Fn::GetAtt": ["AccessPoint", "Arn"]}:
            return {"Fn::Sub": "arn:${AWS::Partition}:elasticfilesystem:"
                               "${AWS::Region}:${AWS::AccountId}:access-point/${AccessPoint}"}
        return {k: access_point_arn(v) for k, v in node.items()}
    if isinstance(node, list):
        return [access_point_arn(v) for v in node]
    return node


IGNORED_TYPES = {"AWS::CloudWatch::Alarm": "cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:",
                 "AWS::Scheduler::Schedule": "scheduler:${AWS::Region}:${AWS::AccountId}:schedule/default/",
                 "AWS::SNS::TopicPolicy": None, "AWS::SQS::QueuePolicy": None}


def ignored_arns(node, arns):
    """GAP-IGNORED-TYPES: arns maps a logical ID to its ARN (for Fn::Sub)."""
    if isinstance(node, dict):
        get_att = node.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att[0] in arns and get_att[1] == "Arn":
            return {"Fn::Sub": arns[get_att[0]]}
        return {k: ignored_arns(v, arns) for k, v in node.items()}
    if isinstance(node, list):
        return [ignored_arns(v, arns) for v in node]
    if isinstance(node, str):
        for name, arn in arns.items():
            node = node.replace("${%s.Arn}" % name, arn)
    return node


template = access_point_arn(json.load(open(template_path)))
arns = {name: "arn:${AWS::Partition}:" + IGNORED_TYPES[r["Type"]] + name
        for name, r in template["Resources"].items()
        if IGNORED_TYPES.get(r["Type"])}
template = ignored_arns(template, arns)
for name, r in template["Resources"].items():  # GAP-BATCH-SERVICE-ROLE
    if r["Type"] == "AWS::Batch::ComputeEnvironment":
        r["Properties"].setdefault("ServiceRole", {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
                       "batch.amazonaws.com/AWSServiceRoleForBatch"})
for name, r in template["Resources"].items():  # GAP-ECR-NAME
    if r["Type"] == "AWS::ECR::Repository":
        r["Properties"].setdefault("RepositoryName", (stack + "-" + name).lower())

kw = dict(endpoint_url=endpoint, region_name="eu-west-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
ec2 = boto3.client("ec2", **kw)
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
ids = {"@vpc": vpc,
       "@rtb": ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"],
       "@subnet": ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"],
       "@sg": ec2.create_security_group(GroupName=stack + "-mount-targets", Description="t",
                                        VpcId=vpc)["GroupId"],
       "@task-sg": ec2.create_security_group(GroupName=stack + "-task", Description="t",
                                             VpcId=vpc)["GroupId"]}
params = {k: ids.get(v, v) for k, v in params.items()}
if any(r["Type"] == "AWS::Batch::ComputeEnvironment"
       for r in template["Resources"].values()):  # GAP-BATCH-SERVICE-ROLE
    iam = boto3.client("iam", **kw)
    try:
        iam.create_role(RoleName="AWSServiceRoleForBatch",
                        Path="/aws-service-role/batch.amazonaws.com/",
                        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                             "Statement": []}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
cf = boto3.client("cloudformation", **kw)
cf.create_stack(StackName=stack, TemplateBody=json.dumps(template),
                Capabilities=["CAPABILITY_IAM"],
                Parameters=[{"ParameterKey": k, "ParameterValue": v}
                            for k, v in params.items()])
for _ in range(120):
    s = cf.describe_stacks(StackName=stack)["Stacks"][0]
    if not s["StackStatus"].endswith("IN_PROGRESS"):
        break
    time.sleep(0.5)
print(stack, s["StackStatus"])
if s["StackStatus"] != "CREATE_COMPLETE":
    for e in cf.describe_stack_events(StackName=stack)["StackEvents"]:
        if "FAILED" in e["ResourceStatus"]:
            print(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
    sys.exit(1)
# Every resource of the template was created, but those of a condition (the
# test's parameters may leave them out) and those of GAP-IGNORED-TYPES.
created = {r["LogicalResourceId"]
           for r in cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]}
missing = []
for name, r in template["Resources"].items():
    if name in created:
        continue
    why = "conditional" if "Condition" in r else \
        "GAP-IGNORED-TYPES" if r["Type"] in IGNORED_TYPES else None
    print("not created:", name, r["Type"], "(%s)" % (why or "unexpected"))
    if why is None:
        missing.append(name)
print("created:", " ".join(sorted(n for n in created if n)))
sys.exit(1 if missing else 0)
