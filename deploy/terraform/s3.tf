# s3.tf - the uploads bucket: private (public access blocked, ACLs off),
# versioned (overwritten or deleted uploads stay recoverable for
# var.uploads_noncurrent_days), encrypted with KMS (the AWS managed key, with
# an S3 bucket key), reachable over TLS only; CORS for presigned browser
# uploads, and replicated to var.backup_region with var.uploads_replication.

resource "aws_s3_bucket" "uploads" {
  bucket = "${local.prefix}-uploads-${local.account_id}"
}

resource "aws_s3_bucket_public_access_block" "uploads" {
  bucket                  = aws_s3_bucket.uploads.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.uploads_noncurrent_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.uploads]
}

data "aws_iam_policy_document" "uploads" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.uploads.arn,
      "${aws_s3_bucket.uploads.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "uploads" {
  bucket = aws_s3_bucket.uploads.id
  policy = data.aws_iam_policy_document.uploads.json

  depends_on = [aws_s3_bucket_public_access_block.uploads]
}

# Browsers upload straight to the bucket with presigned PUT URLs
# (attachments.upload_url) and read with presigned GET URLs: the site's
# origins may do both, sending the Content-Type the URL was signed for.
resource "aws_s3_bucket_cors_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  cors_rule {
    allowed_methods = ["PUT", "GET", "HEAD"]
    allowed_origins = local.uploads_cors_origins
    allowed_headers = ["Content-Type"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

locals {
  uploads_cors_origins = length(var.uploads_cors_origins) > 0 ? var.uploads_cors_origins : ["https://${var.domain}"]
}

# ---- replication to var.backup_region (var.uploads_replication) ----
# Every new object version and delete marker is copied to a versioned bucket
# in the second region, encrypted there with that region's key, with S3
# Replication Time Control (99.99% of objects within 15 minutes) and its
# metrics (the ReplicationLatency alarm in alarms.tf). Objects written before
# replication was switched on need an S3 Batch Replication job once.

resource "aws_s3_bucket" "uploads_replica" {
  count    = var.uploads_replication ? 1 : 0
  provider = aws.backup
  bucket   = "${local.prefix}-uploads-replica-${local.account_id}"
}

resource "aws_s3_bucket_public_access_block" "uploads_replica" {
  count                   = var.uploads_replication ? 1 : 0
  provider                = aws.backup
  bucket                  = aws_s3_bucket.uploads_replica[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "uploads_replica" {
  count    = var.uploads_replication ? 1 : 0
  provider = aws.backup
  bucket   = aws_s3_bucket.uploads_replica[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "uploads_replica" {
  count    = var.uploads_replication ? 1 : 0
  provider = aws.backup
  bucket   = aws_s3_bucket.uploads_replica[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "uploads_replica" {
  count    = var.uploads_replication ? 1 : 0
  provider = aws.backup
  bucket   = aws_s3_bucket.uploads_replica[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.backup[0].arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "uploads_replica" {
  count    = var.uploads_replication ? 1 : 0
  provider = aws.backup
  bucket   = aws_s3_bucket.uploads_replica[0].id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.uploads_noncurrent_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.uploads_replica]
}

data "aws_iam_policy_document" "s3_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "uploads_replication" {
  count              = var.uploads_replication ? 1 : 0
  name               = "${local.prefix}-uploads-replication"
  description        = "S3 replication of ${aws_s3_bucket.uploads.bucket} to ${var.backup_region}"
  assume_role_policy = data.aws_iam_policy_document.s3_assume.json
}

data "aws_iam_policy_document" "uploads_replication" {
  count = var.uploads_replication ? 1 : 0

  statement {
    sid       = "ReadSourceConfiguration"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
  }

  statement {
    sid = "ReadSourceVersions"
    actions = [
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionTagging",
    ]
    resources = ["${aws_s3_bucket.uploads.arn}/*"]
  }

  statement {
    sid       = "WriteReplica"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = ["${aws_s3_bucket.uploads_replica[0].arn}/*"]
  }

  # The source objects are encrypted with the AWS managed key aws/s3.
  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:${var.region}:${local.account_id}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "EncryptReplica"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.backup[0].arn]
  }
}

resource "aws_iam_role_policy" "uploads_replication" {
  count  = var.uploads_replication ? 1 : 0
  name   = "${local.prefix}-uploads-replication"
  role   = aws_iam_role.uploads_replication[0].id
  policy = data.aws_iam_policy_document.uploads_replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "uploads" {
  count  = var.uploads_replication ? 1 : 0
  bucket = aws_s3_bucket.uploads.id
  role   = aws_iam_role.uploads_replication[0].arn

  rule {
    id     = "uploads-to-${var.backup_region}"
    status = "Enabled"

    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }

    destination {
      bucket        = aws_s3_bucket.uploads_replica[0].arn
      storage_class = "STANDARD"

      encryption_configuration {
        replica_kms_key_id = aws_kms_key.backup[0].arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  # Both buckets must be versioned first.
  depends_on = [aws_s3_bucket_versioning.uploads, aws_s3_bucket_versioning.uploads_replica]
}
