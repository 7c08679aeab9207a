// The identity of a job's snapshots: the host and the paths they record. A
// backup's parent is the latest snapshot of the same host and paths, so the
// same job file must give the same identity wherever it runs (on a host with
// `job run`, in the Fargate task or on the EC2 instance of `generate aws`),
// or a job moved from one to the other re-reads everything.
//
//   host:  the job's `host`; else, for an EFS source, the file system's ID;
//          else the machine's hostname (backup's default).
//   paths: the source paths; for an EFS source its mount point, by default
//          /mnt/efs/<fs-id> (DefaultEfsMountPoint), where the ECS task and
//          the EC2 instance mount it too.
#pragma once

#include <string>
#include <vector>

#include "jobs/config.h"

namespace efs2s3::jobs {

// Where an EFS source is mounted when the job gives no mount_point.
std::string DefaultEfsMountPoint(const std::string& file_system_id);

// The paths the job's backup records.
std::vector<std::string> BackupPaths(const Job& job);

// The host the job's snapshots record; "" for the machine's hostname.
std::string SnapshotHost(const Job& job);

// One warning line per exclude pattern (with a '/', so matched against the
// whole path) that can match no path under `paths`: its literal beginning
// (up to the first *, ?, [ or \) leads elsewhere. Patterns written for
// another mount point ("/mnt/efs/scratch/*" for a job at
// /mnt/efs/fs-12345678) would otherwise silently exclude nothing.
std::vector<std::string> ExcludeWarnings(const Job& job,
                                         const std::vector<std::string>& paths);

}  // namespace efs2s3::jobs
