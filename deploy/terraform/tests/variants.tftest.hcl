# variants.tftest.hcl - settings that the environments' tfvars do not
# exercise, each on top of envs/dev/terraform.tfvars (deploy/terraform-check.sh
# runs this file once, with that file), against the same mocked provider.

mock_provider "aws" {
  source = "./tests/mocks/aws"
}

mock_provider "aws" {
  alias  = "backup"
  source = "./tests/mocks/backup"
}

# Not in the tfvars files: the image comes from the pipeline, the secrets
# from the operator (ephemeral).
variables {
  image_tag     = "0.1.0"
  db_password   = "testpassword0123456789"
  metrics_token = "testmetricstoken0123456789"
}

# With TLS to Redis (for other clients), the tasks get no COMMUNITY_REDIS: the
# server would refuse the rediss:// scheme and not start.
run "redis_tls" {
  command = apply

  variables {
    redis_transit_encryption = true
    redis_auth_token         = "testredistoken0123456789"
  }

  assert {
    condition = (
      !contains([for x in jsondecode(aws_ecs_task_definition.service["app"].container_definitions)[0].secrets : x.name], "COMMUNITY_REDIS") &&
      !contains([for x in jsondecode(aws_ecs_task_definition.service["worker"].container_definitions)[0].secrets : x.name], "COMMUNITY_REDIS") &&
      !contains([for x in jsondecode(aws_ecs_task_definition.service["web"].container_definitions)[0].secrets : x.name], "COMMUNITY_REDIS") &&
      startswith(aws_secretsmanager_secret_version.redis_url.secret_string, "rediss://:")
    )
    error_message = "with TLS to Redis the URL is rediss:// with the token, and no task gets it"
  }
}

# ElastiCache takes an AUTH token only with in-transit encryption.
run "redis_token_needs_tls" {
  command = plan

  variables {
    redis_transit_encryption = false
    redis_auth_token         = "testredistoken0123456789"
  }

  expect_failures = [var.redis_auth_token]
}

# The uploads bucket for the API: the COMMUNITY_S3_* settings, and no keys
# (the task role's credentials, fetched by the server).
run "uploads_s3" {
  command = apply

  variables {
    uploads_s3 = true
  }

  assert {
    condition = (
      contains([for x in jsondecode(aws_ecs_task_definition.service["app"].container_definitions)[0].environment : x.value if x.name == "COMMUNITY_S3_BUCKET"], aws_s3_bucket.uploads.bucket) &&
      !contains([for x in jsondecode(aws_ecs_task_definition.service["app"].container_definitions)[0].secrets : x.name], "COMMUNITY_S3_SECRET_KEY") &&
      !contains([for x in jsondecode(aws_ecs_task_definition.service["app"].container_definitions)[0].environment : x.name], "COMMUNITY_S3_ACCESS_KEY") &&
      aws_ecs_task_definition.service["app"].task_role_arn == aws_iam_role.task.arn
    )
    error_message = "with uploads_s3 the API gets the bucket and no keys: it signs with its task role"
  }
}
