# outputs.tf - what deployments, DNS and operators need.

output "alb_dns_name" {
  description = "Point the site's DNS (CNAME or alias) here."
  value       = aws_lb.main.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias."
  value       = aws_lb.main.zone_id
}

output "ecr_repository_url" {
  description = "Push the API image (deploy/Dockerfile --target api) here: docker push <url>:<image_tag>."
  value       = aws_ecr_repository.app.repository_url
}

output "ecs_cluster" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.main.name
}

output "ecr_web_repository_url" {
  description = "Push the web image (deploy/Dockerfile --target web) here, with the same tag."
  value       = aws_ecr_repository.web.repository_url
}

output "ecs_service" {
  description = "ECS service of the API (community-server)."
  value       = aws_ecs_service.app.name
}

output "ecs_web_service" {
  description = "ECS service of the web tier (Next.js)."
  value       = aws_ecs_service.web.name
}

output "ecs_worker_service" {
  description = "ECS service of the job worker (community worker)."
  value       = aws_ecs_service.worker.name
}

output "migrate_task_definition" {
  description = "Task definition that runs `community migrate` (aws ecs run-task)."
  value       = aws_ecs_task_definition.service["migrate"].arn
}

output "private_subnet_ids" {
  description = "Subnets for one-off tasks (migrations)."
  value       = aws_subnet.private[*].id
}

output "app_security_group_id" {
  description = "Security group for one-off tasks (migrations)."
  value       = aws_security_group.app.id
}

output "log_group" {
  description = "CloudWatch log group of every service and the migrations (stream prefixes app, web, worker, migrate)."
  value       = aws_cloudwatch_log_group.app.name
}

output "alarm_topic_arn" {
  description = "SNS topic every CloudWatch alarm notifies; subscribe more endpoints here."
  value       = aws_sns_topic.alarms.arn
}

output "db_endpoint" {
  description = "RDS endpoint (host:port)."
  value       = aws_db_instance.main.endpoint
}

output "db_uri_secret_arn" {
  description = "Secret holding COMMUNITY_DB."
  value       = aws_secretsmanager_secret.db_uri.arn
}

output "api_keys_secret_arn" {
  description = "Secret holding COMMUNITY_METRICS_TOKEN and COMMUNITY_EMBEDDINGS_KEY."
  value       = aws_secretsmanager_secret.api_keys.arn
}

output "redis_primary_endpoint" {
  description = "Redis primary endpoint (TLS, AUTH token in <prefix>/redis-url)."
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "uploads_bucket" {
  description = "S3 bucket for uploads."
  value       = aws_s3_bucket.uploads.bucket
}

output "ses_verification_record" {
  description = "TXT record _amazonses.<domain> (publish it when route53_zone_id is empty)."
  value       = aws_ses_domain_identity.main.verification_token
}

output "ses_dkim_records" {
  description = "CNAME records <token>._domainkey.<domain> -> <token>.dkim.amazonses.com."
  value       = [for t in aws_ses_domain_dkim.main.dkim_tokens : "${t}._domainkey.${var.domain} CNAME ${t}.dkim.amazonses.com"]
}

output "deploy_role_arn" {
  description = "Role of the CD workflow (GitHub OIDC): the AWS_DEPLOY_ROLE_ARN variable of the GitHub environment."
  value       = one(aws_iam_role.deploy[*].arn)
}

output "codedeploy_application" {
  description = "CodeDeploy application of the blue/green deployments (deployment groups <prefix>-app and <prefix>-web)."
  value       = aws_codedeploy_app.main.name
}

output "migrate_task_family" {
  description = "Task definition family of the migrations (the CD workflow registers new revisions)."
  value       = "${local.prefix}-migrate"
}
