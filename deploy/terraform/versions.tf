# versions.tf - Terraform and provider versions, the AWS provider, and the
# names shared by every file of this configuration.
#
# The platform on AWS: a VPC with public and private subnets, community-server
# on ECS Fargate behind an ALB, RDS PostgreSQL 15, ElastiCache Redis, an S3
# bucket for uploads, an SES domain identity, secrets in Secrets Manager and
# logs in CloudWatch. See docs/operations-guide.md.

terraform {
  # 1.11: write-only arguments (password_wo, secret_string_wo), so the
  # passwords never enter the plan or the state (secrets.tf).
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }

  # State in S3, one object per environment: the bucket, key and region come
  # from envs/<env>/backend.tfbackend (terraform init
  # -backend-config=envs/<env>/backend.tfbackend). The bucket is versioned and
  # encrypted (bootstrap/); use_lockfile locks with an S3 object, no
  # DynamoDB table needed.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

locals {
  prefix     = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  tags = merge({
    Application = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
  }, var.tags)
}
