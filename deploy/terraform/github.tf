# github.tf - the role that the CD workflow (.github/workflows/cd.yml)
# assumes through GitHub's OIDC provider: no long-lived AWS keys in GitHub.
# Only jobs of var.github_repository running in the GitHub environment
# var.github_environment (default: var.environment; production jobs wait for
# the environment's required reviewers) get it. It may push and pull this
# environment's images (and pull var.image_source_repository_arns, to promote
# an image from staging by digest), register task definitions, run the
# migration task, roll the worker and start CodeDeploy deployments, nothing
# else. Set var.github_repository to create it.

locals {
  github             = var.github_repository != ""
  github_environment = var.github_environment != "" ? var.github_environment : var.environment
  github_oidc_arn    = var.github_oidc_provider_arn != "" ? var.github_oidc_provider_arn : one(aws_iam_openid_connect_provider.github[*].arn)
}

# One per account: set var.github_oidc_provider_arn in the other
# environments of the same account.
resource "aws_iam_openid_connect_provider" "github" {
  count           = local.github && var.github_oidc_provider_arn == "" ? 1 : 0
  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
}

data "aws_iam_policy_document" "deploy_assume" {
  count = local.github ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${local.github_environment}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  count                = local.github ? 1 : 0
  name                 = "${local.prefix}-deploy"
  description          = "GitHub Actions CD of ${var.github_repository} into ${local.prefix}"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume[0].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  count = local.github ? 1 : 0

  statement {
    sid       = "EcrToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.app.arn, aws_ecr_repository.web.arn]
  }

  dynamic "statement" {
    for_each = length(var.image_source_repository_arns) > 0 ? [1] : []
    content {
      sid       = "PullPromotedImages"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer"]
      resources = var.image_source_repository_arns
    }
  }

  # RegisterTaskDefinition and DescribeTaskDefinition take no resource.
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid     = "Services"
    actions = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [
      aws_ecs_service.app.id,
      aws_ecs_service.web.id,
      aws_ecs_service.worker.id,
    ]
  }

  statement {
    sid       = "Migrate"
    actions   = ["ecs:RunTask"]
    resources = ["arn:aws:ecs:${var.region}:${local.account_id}:task-definition/${local.prefix}-migrate:*"]
  }

  statement {
    sid       = "MigrateStatus"
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:aws:ecs:${var.region}:${local.account_id}:task/${aws_ecs_cluster.main.name}/*"]
  }

  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.task.arn]
  }

  statement {
    sid = "Deployments"
    actions = [
      "codedeploy:CreateDeployment",
      "codedeploy:GetApplication",
      "codedeploy:GetApplicationRevision",
      "codedeploy:GetDeployment",
      "codedeploy:GetDeploymentConfig",
      "codedeploy:GetDeploymentGroup",
      "codedeploy:RegisterApplicationRevision",
    ]
    resources = [
      aws_codedeploy_app.main.arn,
      "arn:aws:codedeploy:${var.region}:${local.account_id}:deploymentgroup:${aws_codedeploy_app.main.name}/*",
      "arn:aws:codedeploy:${var.region}:${local.account_id}:deploymentconfig:*",
    ]
  }
}

resource "aws_iam_role_policy" "deploy" {
  count  = local.github ? 1 : 0
  name   = "${local.prefix}-deploy"
  role   = aws_iam_role.deploy[0].id
  policy = data.aws_iam_policy_document.deploy[0].json
}
