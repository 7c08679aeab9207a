#!/usr/bin/env python3
"""Raw PUT rate of an S3 server: THREADS clients put COUNT objects of SIZE bytes.

Usage: s3put.py ENDPOINT BUCKET SIZE COUNT [THREADS]
Prints "<objects/s> <MB/s>". Credentials come from the AWS_* environment. Needs boto3
(the awscli's Python has it)."""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

endpoint, bucket, size, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 32
s3 = boto3.client("s3", endpoint_url=endpoint,
                  config=Config(max_pool_connections=threads, s3={"addressing_style": "path"}))
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
body = os.urandom(size)
start = time.time()
with ThreadPoolExecutor(threads) as ex:
    list(ex.map(lambda i: s3.put_object(Bucket=bucket, Key=f"o{size}/{i}", Body=body), range(count)))
secs = time.time() - start
print(f"{count / secs:.1f} {count * size / secs / 1e6:.1f}")
