#!/usr/bin/env python3
"""Structural checks of the manifests from `efs2s3 generate k8s`.

Usage: check_k8s.py YAML_FILE_OR_DIR JOB --shards N --repository s3://BUCKET/PREFIX

No Kubernetes schema validator is a Debian package; this checks what a schema
would not: each object's apiVersion, kind and required fields, and the cross
references between them: the claim binds the EFS volume (efs.csi.aws.com,
read-only), every pod's service account, ConfigMap, Secret keys, claim and
volume mounts exist, $(VAR) references name an earlier variable, the job file
in the ConfigMap (TOML) backs up the path the file system is mounted at into
the repository, and the backup CronJob runs an Indexed Job of N workers
(completions = parallelism = N, --shard auto/N, the run ID the Job's name,
--merge-if-last; restartPolicy Never for backoffLimitPerIndex) that never
overlaps the next (concurrencyPolicy Forbid). Prints "ok" or the problems.
"""
import os
import re
import sys
import tomllib

import yaml

path, job = sys.argv[1:3]
shards = int(sys.argv[sys.argv.index("--shards") + 1])
repository = sys.argv[sys.argv.index("--repository") + 1]
errors = []

texts = []
if os.path.isdir(path):
    for name in sorted(os.listdir(path)):
        if name.endswith(".yaml"):
            texts.append(open(os.path.join(path, name)).read())
else:
    texts.append(open(path).read())
docs = [d for t in texts for d in yaml.safe_load_all(t) if d is not None]

API = {"PersistentVolume": "v1", "PersistentVolumeClaim": "v1", "ServiceAccount": "v1",
       "Secret": "v1", "ConfigMap": "v1", "CronJob": "batch/v1"}
CLUSTER_SCOPED = {"PersistentVolume"}
DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
objects = {}
namespace = None
for d in docs:
    kind = d.get("kind")
    if API.get(kind) != d.get("apiVersion"):
        errors.append("%s: apiVersion %r" % (kind, d.get("apiVersion")))
        continue
    md = d.get("metadata", {})
    name = md.get("name", "")
    if not DNS.match(name) or len(name) > 63:
        errors.append("%s %r: not a DNS-1123 name" % (kind, name))
    if kind in CLUSTER_SCOPED:
        if "namespace" in md:
            errors.append("%s %s is cluster-scoped but has a namespace" % (kind, name))
    else:
        namespace = namespace or md.get("namespace")
        if md.get("namespace") != namespace:
            errors.append("%s %s: namespace %r, not %r" % (kind, name, md.get("namespace"), namespace))
    objects.setdefault(kind, {})[name] = d


def one(kind):
    found = list(objects.get(kind, {}).values())
    if len(found) != 1:
        errors.append("%d objects of kind %s, expected 1" % (len(found), kind))
        return {}
    return found[0]


pv, pvc, sa, secret, cm = (one(k) for k in ("PersistentVolume", "PersistentVolumeClaim",
                                             "ServiceAccount", "Secret", "ConfigMap"))
# The file system: a static EFS volume, read-only, bound to the claim.
spec = pv.get("spec", {})
csi = spec.get("csi", {})
if csi.get("driver") != "efs.csi.aws.com" or not re.match(r"^fs-[0-9a-f]+(:|$)", csi.get("volumeHandle", "")):
    errors.append("PersistentVolume is not an EFS CSI volume: %r" % csi)
if not spec.get("capacity", {}).get("storage"):
    errors.append("PersistentVolume without capacity")
if spec.get("accessModes") != ["ReadOnlyMany"] or csi.get("readOnly") is not True:
    errors.append("PersistentVolume is not read-only")
if spec.get("claimRef") != {"namespace": namespace, "name": pvc.get("metadata", {}).get("name")}:
    errors.append("PersistentVolume is not reserved for the claim: %r" % spec.get("claimRef"))
ps = pvc.get("spec", {})
if ps.get("volumeName") != pv.get("metadata", {}).get("name") or ps.get("storageClassName") != "" \
        or spec.get("storageClassName") != "" or ps.get("accessModes") != spec.get("accessModes") \
        or not ps.get("resources", {}).get("requests", {}).get("storage"):
    errors.append("PersistentVolumeClaim does not bind the volume statically")
secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
config_keys = set(cm.get("data", {}))

cronjobs = objects.get("CronJob", {})
backup = [c for c in cronjobs.values() if
          c["spec"]["jobTemplate"]["spec"].get("completionMode") == "Indexed"]
if len(backup) != 1:
    errors.append("%d CronJobs run an Indexed Job, expected 1 (the backup)" % len(backup))
mount_of = {}
for name, c in cronjobs.items():
    cs = c.get("spec", {})
    if len(cs.get("schedule", "").split()) != 5:
        errors.append("CronJob %s: schedule %r is not five cron fields" % (name, cs.get("schedule")))
    if cs.get("concurrencyPolicy") != "Forbid":
        errors.append("CronJob %s: runs may overlap" % name)
    js = cs["jobTemplate"]["spec"]
    pod = js["template"]["spec"]
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        errors.append("CronJob %s: restartPolicy %r" % (name, pod.get("restartPolicy")))
    if "backoffLimitPerIndex" in js and (js.get("completionMode") != "Indexed" or
                                         pod.get("restartPolicy") != "Never"):
        errors.append("CronJob %s: backoffLimitPerIndex needs an Indexed Job and restartPolicy Never" % name)
    if pod.get("serviceAccountName") not in objects.get("ServiceAccount", {}):
        errors.append("CronJob %s: no service account %r" % (name, pod.get("serviceAccountName")))
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for v in volumes.values():
        if "configMap" in v and v["configMap"]["name"] not in objects.get("ConfigMap", {}):
            errors.append("CronJob %s: volume %s: no ConfigMap %s" % (name, v["name"], v["configMap"]["name"]))
        if "persistentVolumeClaim" in v:
            if v["persistentVolumeClaim"]["claimName"] not in objects.get("PersistentVolumeClaim", {}):
                errors.append("CronJob %s: volume %s: no claim" % (name, v["name"]))
            if v["persistentVolumeClaim"].get("readOnly") is not True:
                errors.append("CronJob %s: the file system is mounted read-write" % name)
    for ctr in pod.get("containers", []):
        if not ctr.get("image") or not ctr.get("name"):
            errors.append("CronJob %s: a container without name or image" % name)
        mounts = {}
        for m in ctr.get("volumeMounts", []):
            if m["name"] not in volumes:
                errors.append("CronJob %s: mount of unknown volume %s" % (name, m["name"]))
            mounts[m["name"]] = m
        defined = []
        for e in ctr.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and (ref["name"] not in objects.get("Secret", {}) or ref["key"] not in secret_keys):
                errors.append("CronJob %s: %s from a missing secret key %r" % (name, e["name"], ref))
            for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value", "")):
                if var not in defined:
                    errors.append("CronJob %s: %s refers to $(%s) before it" % (name, e["name"], var))
            defined.append(e["name"])
        command = " ".join(ctr.get("command", []) + ctr.get("args", []))
        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", command):
            if var not in defined:
                errors.append("CronJob %s: the command refers to undefined $(%s)" % (name, var))
        config = re.search(r"--config (\S+)", command)
        cm_mount = [m for m in mounts.values() if "configMap" in volumes.get(m["name"], {})]
        if not config or not cm_mount or \
                config.group(1) not in [m["mountPath"] + "/" + k for m in cm_mount for k in config_keys]:
            errors.append("CronJob %s: --config is not the ConfigMap's job file" % name)
        if not re.search(r"efs2s3 job run %s( |$)" % re.escape(job), command):
            errors.append("CronJob %s does not run job %s: %s" % (name, job, command))
        efs = [m for m in mounts.values() if "persistentVolumeClaim" in volumes.get(m["name"], {})]
        if efs:
            mount_of[name] = efs[0]["mountPath"]
            if efs[0].get("readOnly") is not True:
                errors.append("CronJob %s: the file system is mounted read-write" % name)

# The backup: N workers, each its index, one run ID per Job, the last merges.
for c in backup:
    name = c["metadata"]["name"]
    js = c["spec"]["jobTemplate"]["spec"]
    if js.get("completions") != shards or js.get("parallelism") != shards:
        errors.append("CronJob %s: completions/parallelism %r/%r, not %d" %
                      (name, js.get("completions"), js.get("parallelism"), shards))
    ctr = js["template"]["spec"]["containers"][0]
    command = " ".join(ctr["command"])
    env = {e["name"]: e for e in ctr.get("env", [])}
    if shards > 1:
        want = "--shard auto/%d --run-id $(EFS2S3_RUN_ID) --merge-if-last" % shards
        if want not in command:
            errors.append("CronJob %s: the workers run %r, not ... %s" % (name, command, want))
        if env.get("EFS2S3_RUN_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != \
                "metadata.labels['batch.kubernetes.io/job-name']":
            errors.append("CronJob %s: the run ID is not the Job's name" % name)
    elif "--only backup" not in command:
        errors.append("CronJob %s: one worker runs %r, not --only backup" % (name, command))
    if name not in mount_of:
        errors.append("CronJob %s does not mount the file system" % name)
    # The job file backs up the mounted file system into the repository.
    try:
        toml = tomllib.loads(cm["data"]["efs2s3.toml"])
        j = toml["jobs"][job]
        if j["repository"] != repository:
            errors.append("the job file's repository is %s, not %s" % (j["repository"], repository))
        if j["source"]["paths"] != [mount_of.get(name)]:
            errors.append("the job file backs up %r, the file system is at %r" %
                          (j["source"]["paths"], mount_of.get(name)))
    except (KeyError, tomllib.TOMLDecodeError) as e:
        errors.append("the ConfigMap's job file: %r" % e)

if errors:
    print("\n".join(errors))
    sys.exit(1)
print("ok")
