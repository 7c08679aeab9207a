// Answers of S3, SNS and STS shaped as the services send them: the valid
// inputs of the XML decoders' tests (s3_xml_test.cc, decode_property_test.cc).
#pragma once

namespace efs2s3::aws::xml_answers {

inline constexpr char kList[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bkt</Name><Prefix>repo/</Prefix><KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys><EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>repo/a%20b%2Bc</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;9e107d9d372bb6826bd81d3542a419d6&quot;</ETag><Size>1234</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>repo/%E2%82%AC+x</Key><LastModified>2024-01-02T03:04:06.000Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e-2"</ETag><Size>0</Size></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";

inline constexpr char kUploads[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bkt</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>repo/data/ab/abcd</NextKeyMarker>
  <NextUploadIdMarker>2~x</NextUploadIdMarker><MaxUploads>1000</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload><Key>repo/data/ab/abcd</Key><UploadId>2~x</UploadId>
    <Initiator><ID>u</ID></Initiator><StorageClass>STANDARD</StorageClass>
    <Initiated>2024-05-01T10:00:00.000Z</Initiated></Upload>
</ListMultipartUploadsResult>)";

inline constexpr char kInitiate[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bkt</Bucket><Key>big</Key><UploadId>2~iCw_lDY8VoNl</UploadId>
</InitiateMultipartUploadResult>)";

inline constexpr char kComplete[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://bkt.s3.amazonaws.com/big</Location><Bucket>bkt</Bucket>
  <Key>big</Key><ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>)";

inline constexpr char kError[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>
  <Key>repo/config</Key><RequestId>tx0000</RequestId><HostId>h</HostId></Error>)";

inline constexpr char kDelete[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Error><Key>a</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
  <Error><Key>b</Key><Code>NoSuchKey</Code><Message>gone</Message></Error>
</DeleteResult>)";

inline constexpr char kPublish[] =
    R"(<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>
  </PublishResult>
  <ResponseMetadata><RequestId>d74b8436</RequestId></ResponseMetadata>
</PublishResponse>)";

inline constexpr char kQueryError[] =
    R"(<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>NotFound</Code>
    <Message>Topic does not exist &amp; never did</Message></Error>
  <RequestId>9dd01905</RequestId>
</ErrorResponse>)";

inline constexpr char kSts[] =
    R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:x</SubjectFromWebIdentityToken>
    <Credentials><SessionToken>FQoGZXIvYXdzE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG</SecretAccessKey>
      <Expiration>2024-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId></Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>)";

// As radosgw sends it: versions and delete markers interleaved, keys
// URL-encoded, newest first per key.
inline constexpr char kVersions[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <EncodingType>url</EncodingType><Name>bkt</Name><Prefix>r/</Prefix>
  <MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>
  <KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>
  <NextKeyMarker>r%2Fkeys%2Fk%201</NextKeyMarker>
  <NextVersionIdMarker>vZJC7a65</NextVersionIdMarker>
  <DeleteMarker><Key>r%2Fconfig</Key><VersionId>vsKA9nFV</VersionId>
    <IsLatest>true</IsLatest><LastModified>2026-12-03T06:38:01.830Z</LastModified>
    <Owner><ID>test</ID></Owner></DeleteMarker>
  <Version><Key>r%2Fconfig</Key><VersionId>96yIKbyw</VersionId>
    <IsLatest>false</IsLatest><LastModified>2026-12-03T06:37:59.979Z</LastModified>
    <ETag>&quot;bfcc9da4f2e1d313c63cd0a4ee7604e9&quot;</ETag><Size>3</Size>
    <StorageClass>STANDARD</StorageClass></Version>
  <Version><Key>r%2Fkeys%2Fk%201</Key><VersionId>null</VersionId>
    <IsLatest>true</IsLatest><LastModified>2026-12-03T06:38:03Z</LastModified>
    <ETag>"60b725f10c9c85c70d97880dfe8191b3"</ETag><Size>12345678901</Size>
    <StorageClass>GLACIER_IR</StorageClass></Version>
</ListVersionsResult>)";

}  // namespace efs2s3::aws::xml_answers
