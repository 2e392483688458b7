# iam.tf - two roles for the tasks, each with only what it needs:
#   execution role (ECS agent): pull this repository's images, write this log
#     group, read this service's secrets;
#   task role (the processes themselves): objects of the uploads bucket, SES
#     sending from var.domain, and the metrics collector's log group.
# community-server signs its S3 (and SES API) requests with the task role's
# temporary credentials, which it fetches from the ECS credentials endpoint
# (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, set by ECS) and renews before they
# expire: no IAM user, no access key anywhere.
# No wildcard resources except ecr:GetAuthorizationToken, which AWS only
# grants on "*".

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.prefix}-execution"
  description        = "ECS agent for ${local.prefix}: image pull, logs, secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.app.arn, aws_ecr_repository.web.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:*"]
  }

  statement {
    sid     = "ReadSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_secretsmanager_secret.db_uri.arn,
      aws_secretsmanager_secret.api_keys.arn,
      aws_secretsmanager_secret.redis_url.arn,
    ]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${local.prefix}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${local.prefix}-task"
  description        = "community-server in ${local.prefix}: uploads and mail"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# The uploads bucket: objects (with multipart uploads) and listing.
data "aws_iam_policy_document" "uploads_access" {
  statement {
    sid       = "UploadObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.uploads.arn}/*"]
  }

  statement {
    sid       = "ListUploads"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
  }
}

data "aws_iam_policy_document" "task" {
  source_policy_documents = [data.aws_iam_policy_document.uploads_access.json]

  statement {
    sid       = "SendMail"
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [aws_ses_domain_identity.main.arn]

    condition {
      test     = "StringLike"
      variable = "ses:FromAddress"
      values   = ["*@${var.domain}"]
    }
  }

  # The metrics collector (metrics.tf) writes embedded metric format events.
  statement {
    sid       = "WriteMetrics"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:aws:logs:${var.region}:${local.account_id}:log-group:/ecs/${local.prefix}/metrics:*"]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "${local.prefix}-task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
