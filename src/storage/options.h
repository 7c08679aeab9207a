// Options for opening a backend, filled from the command line and environment by cli/.
#pragma once

#include <string>

namespace efs2s3::storage {

struct S3Options {
  std::string endpoint;           // --s3-endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
  std::string region;             // AWS_REGION, AWS_DEFAULT_REGION, config file
  bool path_style = false;        // --s3-path-style
  int connections = 32;           // requests in flight
  std::string sse;                // "", "AES256", "aws:kms"
  std::string sse_kms_key_id;
  std::string storage_class_data;  // storage class of data packs
  std::string storage_class_meta;  // storage class of everything else
};

struct BackendOptions {
  S3Options s3;
};

}  // namespace efs2s3::storage
