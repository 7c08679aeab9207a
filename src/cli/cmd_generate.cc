// generate systemd | cron | aws | k8s JOB: deployment files for a configured
// job.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "base/file_util.h"
#include "cli/context.h"
#include "jobs/generate.h"

namespace efs2s3::cli {

namespace {

struct GenerateCliOptions {
  std::string config, name, exe, output_dir, output, user = "root";
  jobs::CronOptions cron;
  jobs::AwsOptions aws;
  jobs::K8sOptions k8s;
  std::string subnets_csv;
};

Result<jobs::Config> Load(const GenerateCliOptions& o) {
  return jobs::LoadConfig(o.config.empty() ? jobs::DefaultConfigPath()
                                           : o.config);
}

Result<const jobs::Job*> Find(const jobs::Config& c, const std::string& name) {
  const jobs::Job* j = c.Find(name);
  if (!j)
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: no job named '{}'", c.path, name));
  return j;
}

std::string Exe(const GenerateCliOptions& o) {
  if (!o.exe.empty()) return o.exe;
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "/usr/bin/efs2s3" : p.string();
}

std::string AbsConfig(const jobs::Config& c) {
  std::error_code ec;
  auto p = std::filesystem::absolute(c.path, ec);
  return ec ? c.path : p.lexically_normal().string();
}

Result<void> Write(const std::string& path, const std::string& text) {
  return WriteFileAtomic(path, AsBytes(text), false, false);
}

// With --json, what was written to files (README, "JSON output").
void PrintWritten(const Context& ctx, const std::vector<std::string>& files) {
  if (ctx.global.json) ctx.PrintJson({{"written", files}});
}

Result<int> GenerateSystemd(const GenerateCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(jobs::Config c, Load(o));
  ASSIGN_OR_RETURN(const jobs::Job* j, Find(c, o.name));
  ASSIGN_OR_RETURN(jobs::SystemdUnits u,
                   jobs::GenerateSystemd(*j, Exe(o), AbsConfig(c)));
  if (!o.output_dir.empty()) {
    RETURN_IF_ERROR(MakeDirs(o.output_dir, 0755));
    RETURN_IF_ERROR(Write(o.output_dir + "/" + u.service_name, u.service));
    RETURN_IF_ERROR(Write(o.output_dir + "/" + u.timer_name, u.timer));
    PrintWritten(ctx, {o.output_dir + "/" + u.service_name,
                       o.output_dir + "/" + u.timer_name});
    ctx.Info(fmt::format(
        "wrote {0}/{1} and {0}/{2}\nenable with: systemctl daemon-reload && "
        "systemctl enable --now {2}\n",
        o.output_dir, u.service_name, u.timer_name));
    return 0;
  }
  if (ctx.global.json) {
    ctx.PrintJson({{u.service_name, u.service}, {u.timer_name, u.timer}});
  } else {
    ctx.Print(fmt::format("# ---- {}\n{}\n# ---- {}\n{}", u.service_name,
                          u.service, u.timer_name, u.timer));
  }
  return 0;
}

Result<int> GenerateCron(const GenerateCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(jobs::Config c, Load(o));
  ASSIGN_OR_RETURN(const jobs::Job* j, Find(c, o.name));
  jobs::CronOptions co = o.cron;
  co.user = o.user;
  if (!co.log_file.empty() && co.log_file.front() != '/')
    return MakeError(ErrorCode::kUsage,
                     "--log-file " + co.log_file + ": give an absolute path");
  ASSIGN_OR_RETURN(std::string text,
                   jobs::GenerateCron(*j, Exe(o), AbsConfig(c), co));
  if (!o.output.empty()) {
    RETURN_IF_ERROR(Write(o.output, text));
    PrintWritten(ctx, {o.output});
    return 0;
  }
  // --json: file name -> content, as for systemd (README, "JSON output").
  if (ctx.global.json)
    ctx.PrintJson({{"efs2s3-" + j->name, text}});
  else
    ctx.Print(text);
  return 0;
}

Result<int> GenerateAws(GenerateCliOptions o, Context& ctx) {
  ASSIGN_OR_RETURN(jobs::Config c, Load(o));
  ASSIGN_OR_RETURN(const jobs::Job* j, Find(c, o.name));
  // --subnets a,b or repeated.
  std::vector<std::string> subnets;
  for (const std::string& s : o.aws.subnets) {
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t comma = s.find(',', pos);
      std::string part = s.substr(
          pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (!part.empty()) subnets.push_back(part);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  o.aws.subnets = subnets;
  ASSIGN_OR_RETURN(nlohmann::ordered_json t,
                   jobs::GenerateCloudFormation(*j, o.aws));
  for (const std::string& w : jobs::AwsWarnings(*j, o.aws))
    ctx.Warn("warning: " + w + "\n");
  std::string text = t.dump(2) + "\n";
  if (!o.output.empty()) {
    RETURN_IF_ERROR(Write(o.output, text));
    PrintWritten(ctx, {o.output});
    ctx.Info(fmt::format(
        "wrote {}\ndeploy with: {}\n(add NotificationEmail=ADDRESS for "
        "alerts by e-mail)\n",
        o.output, jobs::AwsDeployCommand(t, o.output, "efs2s3-" + j->name)));
    return 0;
  }
  if (ctx.global.json)
    ctx.Print(t.dump() + "\n");  // the template itself, on one line
  else
    ctx.Print(text);
  return 0;
}

// One stream of YAML documents on stdout, or a file per document in a
// directory (kubectl apply -f DIR applies them in their order).
Result<int> GenerateK8s(const GenerateCliOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(jobs::Config c, Load(o));
  ASSIGN_OR_RETURN(const jobs::Job* j, Find(c, o.name));
  ASSIGN_OR_RETURN(std::vector<nlohmann::ordered_json> docs,
                   jobs::GenerateKubernetes(*j, o.k8s));
  const std::string header =
      "# Generated by efs2s3 generate k8s " + j->name + "\n";
  if (!o.output_dir.empty()) {
    RETURN_IF_ERROR(MakeDirs(o.output_dir, 0755));
    std::vector<std::string> files;
    for (size_t i = 0; i < docs.size(); ++i) {
      std::string kind = docs[i]["kind"].get<std::string>();
      for (char& ch : kind) ch = static_cast<char>(std::tolower(ch));
      const std::string file =
          fmt::format("{}/{:02}-{}-{}.yaml", o.output_dir, i + 1, kind,
                      docs[i]["metadata"]["name"].get<std::string>());
      RETURN_IF_ERROR(Write(file, header + jobs::ToYaml(docs[i])));
      files.push_back(file);
    }
    PrintWritten(ctx, files);
    ctx.Info(
        fmt::format("wrote {} files to {}\nset the Secret's values, then "
                    "apply with: kubectl apply -f {}\n",
                    files.size(), o.output_dir, o.output_dir));
    return 0;
  }
  if (ctx.global.json) {
    ctx.PrintJson(nlohmann::ordered_json(docs));
    return 0;
  }
  std::string text = header;
  for (const auto& d : docs) text += "---\n" + jobs::ToYaml(d);
  ctx.Print(text);
  return 0;
}

}  // namespace

void RegisterGenerate(CLI::App& app, Context& ctx) {
  CLI::App* g = app.add_subcommand(
      "generate",
      "Deployment files for a job: systemd units, cron, AWS, Kubernetes");
  g->require_subcommand(1);
  auto common = [](CLI::App* c, std::shared_ptr<GenerateCliOptions> o) {
    c->add_option("job", o->name, "Job name")->required();
    c->add_option("-c,--config", o->config,
                  "Configuration file (env EFS2S3_CONFIG, default "
                  "/etc/efs2s3/efs2s3.toml)");
  };

  auto sd = std::make_shared<GenerateCliOptions>();
  CLI::App* s = g->add_subcommand("systemd", "A service and a timer unit");
  common(s, sd);
  s->add_option("--exe", sd->exe,
                "Binary path for ExecStart (default: this one)");
  s->add_option("--output-dir", sd->output_dir,
                "Write the units there (e.g. /etc/systemd/system)");
  s->callback([&ctx, sd] {
    ctx.run = [&ctx, sd] { return GenerateSystemd(*sd, ctx); };
  });

  auto cr = std::make_shared<GenerateCliOptions>();
  CLI::App* c = g->add_subcommand("cron", "A file for /etc/cron.d");
  common(c, cr);
  c->add_option("--exe", cr->exe, "Binary path (default: this one)");
  c->add_option("--user", cr->user, "User field (default root)");
  c->add_option("-o,--output", cr->output, "Write to this file");
  c->add_option("--log-file", cr->cron.log_file,
                "Append the runs' output to this file (default: syslog, "
                "tag efs2s3-JOB)");
  c->add_flag("--cron-tz", cr->cron.cron_tz,
              "The cron honours CRON_TZ (cronie); without it a job's "
              "timezone is converted to the system zone, or refused");
  c->callback(
      [&ctx, cr] { ctx.run = [&ctx, cr] { return GenerateCron(*cr, ctx); }; });

  // Where a deployment backs up from and to.
  auto target = [](CLI::App* sub, std::string& fs, std::string& bucket,
                   std::string& prefix) {
    sub->add_option("--efs", fs, "File system ID (default: the job's source)");
    sub->add_option("--bucket", bucket, "Repository bucket")->required();
    sub->add_option(
        "--prefix", prefix,
        "Repository prefix in the bucket (default: the job's name)");
  };

  auto aw = std::make_shared<GenerateCliOptions>();
  CLI::App* a = g->add_subcommand(
      "aws",
      "A CloudFormation template: EventBridge Scheduler -> ECS Fargate task "
      "(or EC2 instance) that backs up EFS to S3");
  common(a, aw);
  target(a, aw->aws.file_system_id, aw->aws.bucket, aw->aws.prefix);
  a->add_option("--subnets", aw->aws.subnets,
                "Subnets for the task/instance (comma-separated or repeated)")
      ->required();
  a->add_option("--security-group", aw->aws.security_groups,
                "Security group allowing NFS (2049) to the mount targets "
                "(repeatable)")
      ->required();
  a->add_flag("--ec2", aw->aws.ec2,
              "Start an EC2 instance that mounts, runs the job and terminates");
  a->add_option("--kms-key-arn", aw->aws.kms_key_arn, "SSE-KMS key");
  a->add_option("--architecture", aw->aws.architecture,
                "Default of the Architecture parameter: x86_64 or arm64");
  a->add_flag("--create-ecr", aw->aws.create_ecr,
              "Create an ECR repository in the stack; the task runs its "
              "image ImageTag (Fargate, instead of --image)");
  a->add_flag("--create-bucket", aw->aws.create_bucket,
              "Create the bucket in the stack");
  a->add_option("--image", aw->aws.image,
                "Container image with efs2s3 (required for Fargate)");
  a->add_option("--binary-url", aw->aws.binary_url,
                "s3://bucket/key of the efs2s3 binary (EC2)");
  a->add_option("--alert-after", aw->aws.alert_after_hours,
                "Alarm when no backup succeeded for this many hours "
                "(default 26, at most 168)");
  a->add_option("--shards", aw->aws.shards,
                "One backup on N workers: an AWS Batch array job of N Fargate "
                "workers and a merge job, run by a Step Functions state "
                "machine (2 to 10000)");
  a->add_option("-o,--output", aw->output, "Write the template to this file");
  a->callback(
      [&ctx, aw] { ctx.run = [&ctx, aw] { return GenerateAws(*aw, ctx); }; });

  auto ko = std::make_shared<GenerateCliOptions>();
  CLI::App* k = g->add_subcommand(
      "k8s",
      "Kubernetes manifests (EKS, EFS CSI driver): a CronJob whose Indexed "
      "Job backs up with N workers, the Secret and ConfigMap it reads");
  common(k, ko);
  target(k, ko->k8s.file_system_id, ko->k8s.bucket, ko->k8s.prefix);
  k->add_option("--region", ko->k8s.region, "The bucket's region")->required();
  k->add_option("--image", ko->k8s.image,
                "Container image with efs2s3 and /bin/sh")
      ->required();
  k->add_option("--shards", ko->k8s.shards,
                "Workers of one backup (default 1): an Indexed Job, each "
                "worker --shard auto/N; the last merges");
  k->add_option("--namespace", ko->k8s.namespace_,
                "Namespace of the objects (default efs2s3)");
  k->add_option("--role-arn", ko->k8s.role_arn,
                "IAM role of the pods (IRSA) instead of S3 keys in the Secret");
  k->add_option("--access-point", ko->k8s.access_point,
                "Mount the file system through this access point (fsap-...)");
  k->add_option("--cpu", ko->k8s.cpu, "CPU request of each worker (default 1)");
  k->add_option("--memory", ko->k8s.memory,
                "Memory request of each worker (default 4Gi)");
  k->add_option("--out", ko->output_dir,
                "Write one file per object into this directory");
  k->callback(
      [&ctx, ko] { ctx.run = [&ctx, ko] { return GenerateK8s(*ko, ctx); }; });
}

}  // namespace efs2s3::cli
