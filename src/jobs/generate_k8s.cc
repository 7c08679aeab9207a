// generate k8s: the job on Kubernetes (EKS with the EFS CSI driver).
//
//   PersistentVolume + PersistentVolumeClaim   the file system, read-only
//   ServiceAccount                             (IRSA: the role's annotation)
//   Secret                                     password, S3 keys (optional)
//   ConfigMap                                  the job file
//   CronJob efs2s3-JOB                         the backup: an Indexed Job of
//                                              N workers, each --shard auto/N
//                                              (JOB_COMPLETION_INDEX), the
//                                              run ID the Job's name; the last
//                                              one to finish merges
//   CronJob efs2s3-JOB-maintenance             forget, prune, check (weekly)
//   CronJob efs2s3-JOB-manual (suspended)      a merge or one shard again, by
//                                              kubectl create job --from
//
// Every object is a JSON document; ToYaml writes them as one YAML stream.
#include <fmt/format.h>
#include <strings.h>

#include <cctype>

#include "jobs/config_writer.h"
#include "jobs/generate.h"
#include "jobs/identity.h"

namespace efs2s3::jobs {

namespace {

using ojson = nlohmann::ordered_json;

// A DNS-1123 label: lowercase letters, digits and '-', starting and ending
// with a letter or digit.
bool IsDnsLabel(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      return false;
  return s.front() != '-' && s.back() != '-';
}

// The cron fields of a schedule for a CronJob (the same five fields, and
// the zone in timeZone).
Result<std::string> CronFields(const Job& job) {
  if (!job.schedule) return std::string("0 3 * * *");
  if (job.schedule->is_interval())
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("job {}: schedule '{}': a CronJob takes cron "
                                 "fields, not an interval",
                                 job.name, job.schedule_text));
  return job.schedule_text;
}

struct K8sJob {
  const Job& job;
  const K8sOptions& o;
  std::string name;  // efs2s3-JOB
  std::string fs, mount, toml;
  ojson labels;
};

ojson Metadata(const K8sJob& k, const std::string& name) {
  return {{"name", name}, {"namespace", k.o.namespace_}, {"labels", k.labels}};
}

ojson Volume(const K8sJob& k) {
  // EFS ignores the capacity; Kubernetes requires one.
  std::string handle = k.fs;
  const std::string path = k.job.efs ? k.job.efs->path : "/";
  if (!k.o.access_point.empty())
    handle += "::" + k.o.access_point;
  else if (path != "/")
    handle += ":" + path;
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata", {{"name", k.name}, {"labels", k.labels}}},
          {"spec",
           {{"capacity", {{"storage", "1Ti"}}},
            {"volumeMode", "Filesystem"},
            {"accessModes", {"ReadOnlyMany"}},
            {"persistentVolumeReclaimPolicy", "Retain"},
            {"storageClassName", ""},
            {"claimRef", {{"namespace", k.o.namespace_}, {"name", k.name}}},
            {"csi",
             {{"driver", "efs.csi.aws.com"},
              {"volumeHandle", handle},
              {"readOnly", true},
              {"volumeAttributes", {{"encryptInTransit", "true"}}}}}}}};
}

ojson Claim(const K8sJob& k) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", Metadata(k, k.name)},
          {"spec",
           {{"accessModes", {"ReadOnlyMany"}},
            {"storageClassName", ""},
            {"volumeName", k.name},
            {"resources", {{"requests", {{"storage", "1Ti"}}}}}}}};
}

ojson Account(const K8sJob& k) {
  ojson md = Metadata(k, k.name);
  if (!k.o.role_arn.empty())
    md["annotations"] = {{"eks.amazonaws.com/role-arn", k.o.role_arn}};
  return {{"apiVersion", "v1"},
          {"kind", "ServiceAccount"},
          {"metadata", md},
          {"automountServiceAccountToken", !k.o.role_arn.empty()}};
}

// The keys the pods read (kSecretKeys); the values are set at deployment
// (docs/DEPLOY.md): nothing secret is generated.
constexpr const char* kPasswordKey = "password";
constexpr const char* kAccessKeyKey = "aws-access-key-id";
constexpr const char* kSecretKeyKey = "aws-secret-access-key";

ojson Secret(const K8sJob& k) {
  ojson data = {{kPasswordKey, ""}};
  if (k.o.role_arn.empty()) {
    data[kAccessKeyKey] = "";
    data[kSecretKeyKey] = "";
  }
  ojson md = Metadata(k, k.name);
  md["annotations"] = {
      {"efs2s3/fill-in",
       "set the values before applying (kubectl create secret generic " +
           k.name + " --from-literal=...), or delete this document"}};
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", md},
          {"type", "Opaque"},
          {"stringData", data}};
}

ojson ConfigMap(const K8sJob& k) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", Metadata(k, k.name)},
          {"data", {{"efs2s3.toml", k.toml}}}};
}

constexpr const char* kConfigDir = "/etc/efs2s3";

// What a pod knows of its Job's name: the backup's run ID, or the manual
// job's name that says what to do.
enum class JobName { kNone, kRunId, kManual };

// The pod of every job: the image, the job file, the password and S3
// credentials from the Secret, the Job's name, the file system read-only at
// the path the job backs up (with `mount`).
ojson Pod(const K8sJob& k, ojson command, bool mount, JobName job_name) {
  auto secret = [&k](const char* env, const char* key, bool optional) {
    return ojson{
        {"name", env},
        {"valueFrom",
         {{"secretKeyRef",
           {{"name", k.name}, {"key", key}, {"optional", optional}}}}}};
  };
  ojson env = ojson::array({secret("EFS2S3_PASSWORD", kPasswordKey, false),
                            {{"name", "AWS_REGION"}, {"value", k.o.region}}});
  // The backup's run ID: the Job's name, one per scheduled run, the same for
  // all its workers (the label is set by Kubernetes 1.27 and later).
  if (job_name != JobName::kNone)
    env.push_back(
        {{"name",
          job_name == JobName::kRunId ? "EFS2S3_RUN_ID" : "EFS2S3_JOB_NAME"},
         {"valueFrom",
          {{"fieldRef",
            {{"fieldPath",
              "metadata.labels['batch.kubernetes.io/job-name']"}}}}}});
  if (k.o.role_arn.empty()) {
    env.push_back(secret("AWS_ACCESS_KEY_ID", kAccessKeyKey, false));
    env.push_back(secret("AWS_SECRET_ACCESS_KEY", kSecretKeyKey, false));
  }
  ojson mounts = ojson::array(
      {{{"name", "config"}, {"mountPath", kConfigDir}, {"readOnly", true}},
       {{"name", "scratch"}, {"mountPath", "/tmp"}}});
  ojson volumes =
      ojson::array({{{"name", "config"}, {"configMap", {{"name", k.name}}}},
                    {{"name", "scratch"}, {"emptyDir", ojson::object()}}});
  if (mount) {
    mounts.push_back(
        {{"name", "efs"}, {"mountPath", k.mount}, {"readOnly", true}});
    volumes.push_back({{"name", "efs"},
                       {"persistentVolumeClaim",
                        {{"claimName", k.name}, {"readOnly", true}}}});
  }
  return {{"metadata", {{"labels", k.labels}}},
          {"spec",
           {{"serviceAccountName", k.name},
            {"restartPolicy", "Never"},
            // Every file of the file system, whoever owns it.
            {"securityContext", {{"runAsUser", 0}, {"runAsGroup", 0}}},
            {"containers",
             {{{"name", "efs2s3"},
               {"image", k.o.image},
               {"command", std::move(command)},
               {"env", env},
               {"resources",
                {{"requests", {{"cpu", k.o.cpu}, {"memory", k.o.memory}}}}},
               {"volumeMounts", mounts}}}},
            {"volumes", volumes}}}};
}

std::vector<std::string> JobRun(const K8sJob& k) {
  return {"efs2s3",   "job",      "run",
          k.job.name, "--config", std::string(kConfigDir) + "/efs2s3.toml"};
}

ojson CronJob(const K8sJob& k, const std::string& name,
              const std::string& schedule, ojson job_spec, bool suspend) {
  ojson spec = {{"schedule", schedule}};
  if (!k.job.timezone.empty()) spec["timeZone"] = k.job.timezone;
  spec["concurrencyPolicy"] = "Forbid";
  spec["suspend"] = suspend;
  spec["successfulJobsHistoryLimit"] = 3;
  spec["failedJobsHistoryLimit"] = 3;
  spec["jobTemplate"] = {{"metadata", {{"labels", k.labels}}},
                         {"spec", std::move(job_spec)}};
  return {{"apiVersion", "batch/v1"},
          {"kind", "CronJob"},
          {"metadata", Metadata(k, name)},
          {"spec", spec}};
}

// The backup: N workers of one Indexed Job, the Job's name the run ID.
ojson BackupJobSpec(const K8sJob& k) {
  std::vector<std::string> command = JobRun(k);
  const int n = k.o.shards;
  const std::vector<std::string> more =
      n > 1 ? std::vector<std::string>{"--shard", fmt::format("auto/{}", n),
                                       "--run-id", "$(EFS2S3_RUN_ID)",
                                       "--merge-if-last"}
            : std::vector<std::string>{"--only", "backup"};
  command.insert(command.end(), more.begin(), more.end());
  // A failed worker runs again with the same index and run ID; the others
  // go on.
  return {{"completionMode", "Indexed"},
          {"completions", n},
          {"parallelism", n},
          {"backoffLimitPerIndex", 2},
          {"template", Pod(k, command, true, JobName::kRunId)}};
}

// By hand, kubectl create job RUN-merge --from=cronjob/efs2s3-JOB-manual
// merges run RUN; RUN-shard-I runs shard I of it again (and merges if it is
// the last).
ojson ManualJobSpec(const K8sJob& k) {
  const std::string run = fmt::format("{}", fmt::join(JobRun(k), " "));
  const std::string script = fmt::format(
      "n=\"$EFS2S3_JOB_NAME\"\n"
      "case \"$n\" in\n"
      "  *-merge) exec {0} --merge \"${{n%-merge}}\" ;;\n"
      "  *-shard-*) exec {0} --shard \"${{n##*-shard-}}/{1}\" --run-id "
      "\"${{n%-shard-*}}\" --merge-if-last ;;\n"
      "  *) echo \"efs2s3: job $n: name it RUN-merge or RUN-shard-I\" >&2; "
      "exit 2 ;;\n"
      "esac\n",
      run, k.o.shards);
  return {{"backoffLimit", 0},
          {"template", Pod(k, ojson::array({"/bin/sh", "-c", script}), true,
                           JobName::kManual)}};
}

ojson MaintenanceJobSpec(const K8sJob& k) {
  std::vector<std::string> command = JobRun(k);
  command.push_back("--only");
  command.push_back("maintenance");
  return {{"backoffLimit", 1},
          {"template", Pod(k, command, false, JobName::kNone)}};
}

Result<std::string> DeployedToml(const K8sJob& k) {
  Job j = DeployedJob(k.job, [](const std::string& s) { return s; });
  std::string prefix = k.o.prefix.empty() ? k.job.name : k.o.prefix;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  j.repository = "s3://" + k.o.bucket + "/" + prefix;
  j.paths = {k.mount};
  j.host = k.job.host.empty() ? k.fs : k.job.host;
  if (!k.o.region.empty()) j.s3_options = {{"--s3-region", k.o.region}};
  Config c;
  c.state_dir = "/tmp/efs2s3";
  c.jobs = {j};
  ASSIGN_OR_RETURN(std::string toml, WriteConfigToml(c));
  return "# Generated by efs2s3 generate k8s\n" + toml;
}

// A YAML scalar: strings as JSON strings (a subset of YAML's double-quoted
// style, so "no" or "1.0" stay strings), or a literal block when multi-line.
void YamlScalar(const ojson& v, int indent, std::string& out) {
  if (!v.is_string()) {
    out += v.dump();
    return;
  }
  const std::string& s = v.get_ref<const std::string&>();
  bool block = s.find('\n') != std::string::npos && !s.empty() &&
               s.front() != ' ' && s.find("\n\n\n") == std::string::npos;
  for (char c : s)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f)
      block = false;
  if (!block) {
    out += v.dump();
    return;
  }
  const bool final_newline = s.back() == '\n';
  if (final_newline && s.size() > 1 && s[s.size() - 2] == '\n') {
    out += v.dump();  // "|" would keep one newline, "|+" reads oddly
    return;
  }
  out += final_newline ? "|" : "|-";
  const std::string pad(indent, ' ');
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    const std::string line = s.substr(pos, nl - pos);
    out += "\n";
    if (!line.empty()) out += pad + line;
    pos = nl + 1;
  }
  out += "\n";
}

void YamlNode(const ojson& v, int indent, std::string& out);

// Plain when it cannot be read as anything but that string.
std::string YamlKey(const std::string& key) {
  bool plain = !key.empty() && std::isalpha(static_cast<unsigned char>(key[0]));
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '/' &&
        c != '-' && c != '_')
      plain = false;
  static const char* const kWords[] = {"y",   "n",    "yes",   "no",  "on",
                                       "off", "true", "false", "null"};
  for (const char* w : kWords)
    if (strcasecmp(key.c_str(), w) == 0) plain = false;
  return plain ? key : ojson(key).dump();
}

// After "key:" or "- ": a scalar or an empty collection on the same line,
// else the collection below.
void YamlValue(const ojson& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += "\n";
    YamlNode(v, indent, out);
  } else if (v.is_array() && !v.empty()) {
    out += "\n";
    YamlNode(v, indent, out);
  } else if (v.is_object()) {
    out += " {}\n";
  } else if (v.is_array()) {
    out += " []\n";
  } else {
    out += " ";
    YamlScalar(v, indent, out);
    if (out.back() != '\n') out += "\n";
  }
}

void YamlNode(const ojson& v, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      out += pad + YamlKey(key) + ":";
      YamlValue(value, indent + 2, out);
    }
  } else {
    for (const auto& item : v) {
      if (item.is_object() && !item.empty()) {
        // "- " then the first key on the same line.
        std::string map;
        YamlNode(item, indent + 2, map);
        out += pad + "- " + map.substr(indent + 2);
        continue;
      }
      out += pad + "-";
      YamlValue(item, indent + 2, out);
    }
  }
}

}  // namespace

std::string ToYaml(const nlohmann::ordered_json& document) {
  std::string out;
  YamlNode(document, 0, out);
  return out;
}

Result<std::vector<nlohmann::ordered_json>> GenerateKubernetes(
    const Job& job, const K8sOptions& o) {
  auto usage = [](const std::string& m) {
    return MakeError(ErrorCode::kUsage, m);
  };
  K8sJob k{job, o, "efs2s3-" + job.name, "", "", "", {}};
  ASSIGN_OR_RETURN(k.fs, DeployedFileSystem(job, o.file_system_id, o.bucket));
  if (o.image.empty())
    return usage(
        "--image is required (the container image with efs2s3 and /bin/sh)");
  if (o.shards < 1 || o.shards > kMaxK8sShards)
    return usage(fmt::format("--shards {}: between 1 and {} workers", o.shards,
                             kMaxK8sShards));
  if (!IsDnsLabel(o.namespace_, 63))
    return usage("--namespace " + o.namespace_ +
                 ": lowercase letters, digits and '-'");
  if (!o.access_point.empty() && o.access_point.rfind("fsap-", 0) != 0)
    return usage("--access-point " + o.access_point + ": fsap-...");
  if (o.region.empty()) return usage("--region is required (the bucket's)");
  // The CronJob's Jobs are named after it plus 11 characters, and a Job's
  // name is a label value (63); -maintenance makes it 12 longer.
  if (!IsDnsLabel(k.name, 40))
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("job {}: Kubernetes names it {}: at most 40 lowercase "
                    "letters, digits and '-' for the name of its CronJobs",
                    job.name, k.name));
  ASSIGN_OR_RETURN(std::string schedule, CronFields(job));
  k.mount = job.efs && !job.efs->mount_point.empty() ? job.efs->mount_point
            : !job.efs && job.paths.size() == 1      ? job.paths[0]
                                                : DefaultEfsMountPoint(k.fs);
  k.labels = {{"app.kubernetes.io/name", "efs2s3"},
              {"app.kubernetes.io/instance", k.name}};
  ASSIGN_OR_RETURN(k.toml, DeployedToml(k));
  const MaintenanceTime slot = MaintenanceSlot(job);
  const std::string maintenance = fmt::format(
      "{} {} * * {}", slot.minute, slot.hour, fmt::join(slot.weekdays, ","));
  std::vector<ojson> docs = {Volume(k), Claim(k), Account(k), Secret(k),
                             ConfigMap(k)};
  docs.push_back(CronJob(k, k.name, schedule, BackupJobSpec(k), false));
  docs.push_back(CronJob(k, k.name + "-maintenance", maintenance,
                         MaintenanceJobSpec(k), false));
  if (o.shards > 1)
    docs.push_back(
        CronJob(k, k.name + "-manual", schedule, ManualJobSpec(k), true));
  return docs;
}

}  // namespace efs2s3::jobs
