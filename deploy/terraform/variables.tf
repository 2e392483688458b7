# variables.tf - inputs. Only image_tag, certificate_arn and domain have no
# default; envs/<env>/terraform.tfvars holds each environment's values.

variable "name" {
  description = "Application name, first part of every resource name."
  type        = string
  default     = "community"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name))
    error_message = "name: 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (production, staging, ...)."
  type        = string
  default     = "production"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.environment))
    error_message = "environment: 2-12 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-central-1"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# ---- network ----

variable "vpc_cidr" {
  description = "CIDR block of the VPC (a /16 leaves room for the /24 subnets)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread subnets over (2 or 3)."
  type        = number
  default     = 2
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (the ALB and RDS Multi-AZ need two)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all private subnets (cheaper, not zone-redundant)."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "Client networks allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (in var.region)."
  type        = string
}

# ---- application ----

variable "image_tag" {
  description = "Tag of the community-server image in the ECR repository this creates."
  type        = string
}

variable "container_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "container_memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 1024
}

variable "workers" {
  description = "COMMUNITY_WORKERS: threads running library calls per task."
  type        = number
  default     = 4
}

variable "pool_size" {
  description = "COMMUNITY_POOL_SIZE: database connections per task. Tasks x pool must stay under the database's max_connections."
  type        = number
  default     = 8
}

variable "log_level" {
  description = "COMMUNITY_LOG_LEVEL: error, warn, info or debug."
  type        = string
  default     = "info"
}

variable "cors_origins" {
  description = "COMMUNITY_CORS_ORIGINS: browser origins allowed to call the API."
  type        = list(string)
  default     = []
}

variable "embeddings_api_key" {
  description = "Initial COMMUNITY_EMBEDDINGS_KEY (OpenAI-compatible embeddings API); empty when unused. Later changes are made in Secrets Manager."
  type        = string
  default     = ""
  sensitive   = true
}

variable "smtp_uri" {
  description = "Initial COMMUNITY_SMTP of the worker (SES SMTP credentials in a URI); empty: the worker runs jobs but delivers no mail. Later changes are made in Secrets Manager."
  type        = string
  default     = ""
  sensitive   = true
}

variable "mail_from_name" {
  description = "Display name of the worker's mails, sent from no-reply@<domain>."
  type        = string
  default     = "Community"
}

variable "web_cpu" {
  description = "Fargate CPU units of a web (Next.js) task."
  type        = number
  default     = 512
}

variable "web_memory" {
  description = "Fargate memory (MiB) of a web task."
  type        = number
  default     = 1024
}

variable "web_min_count" {
  description = "Fewest running web tasks (autoscaling floor)."
  type        = number
  default     = 2
}

variable "web_max_count" {
  description = "Most running web tasks (autoscaling ceiling)."
  type        = number
  default     = 10
}

variable "worker_count" {
  description = "Running worker tasks (`community worker`); each job runs on one of them."
  type        = number
  default     = 2
}

variable "worker_cpu" {
  description = "Fargate CPU units of a worker task."
  type        = number
  default     = 256
}

variable "worker_memory" {
  description = "Fargate memory (MiB) of a worker task."
  type        = number
  default     = 512
}

variable "min_count" {
  description = "Fewest running tasks (autoscaling floor)."
  type        = number
  default     = 2
}

variable "max_count" {
  description = "Most running tasks (autoscaling ceiling)."
  type        = number
  default     = 10
}

variable "cpu_target" {
  description = "Average CPU utilisation (%) the service scales to."
  type        = number
  default     = 60
}

variable "requests_per_target" {
  description = "ALB requests per task per minute the service scales to."
  type        = number
  default     = 3000
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention."
  type        = number
  default     = 30
}

# ---- database ----

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_engine_version" {
  description = "PostgreSQL version (major 15; RDS picks the default minor)."
  type        = string
  default     = "15"
}

variable "db_allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "db_multi_az" {
  description = "Standby replica in a second zone with automatic failover."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window), 1-35."
  type        = number
  default     = 14
  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be 1-35: 0 would turn backups off."
  }
}

variable "db_name" {
  description = "Database name."
  type        = string
  default     = "community"
}

variable "db_username" {
  description = "Master user name."
  type        = string
  default     = "community"
}

variable "secrets_version" {
  description = "Generation of the database password and the metrics token: var.db_password and var.metrics_token are written on create and whenever this number changes (increase it, with new values, to rotate them)."
  type        = number
  default     = 1
}

variable "db_password" {
  description = "Database master password (letters and digits: it goes into a URI unescaped), needed when the environment is created and when secrets_version changes. Ephemeral: never stored by Terraform."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
  validation {
    condition     = var.db_password == null || can(regex("^[A-Za-z0-9]{16,128}$", var.db_password))
    error_message = "db_password: 16-128 letters and digits."
  }
}

variable "metrics_token" {
  description = "COMMUNITY_METRICS_TOKEN, needed when the environment is created and when secrets_version changes. Ephemeral: never stored by Terraform."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "deletion_protection" {
  description = "Protect the database and the load balancer from deletion."
  type        = bool
  default     = true
}

# ---- cache, storage, mail ----

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_num_nodes" {
  description = "Redis nodes (primary + replicas); 2 or more enables automatic failover."
  type        = number
  default     = 2
}

variable "redis_auth_token" {
  description = "Redis AUTH token (16-128 characters, none of @ \" /), only with redis_transit_encryption (ElastiCache allows a token only with TLS); empty for none. Kept in the state: ElastiCache has no write-only token argument."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.redis_auth_token == "" || var.redis_transit_encryption
    error_message = "redis_auth_token needs redis_transit_encryption = true."
  }
}

variable "uploads_noncurrent_days" {
  description = "Days an overwritten or deleted upload stays recoverable."
  type        = number
  default     = 30
}

variable "domain" {
  description = "Mail domain for the SES identity (From: addresses)."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 zone of var.domain for the SES verification and DKIM records; empty to publish them yourself (see the ses_* outputs)."
  type        = string
  default     = ""
}

# ---- backups in a second region ----

variable "db_backup_replication" {
  description = "Replicate the database's automated backups to var.backup_region."
  type        = bool
  default     = true
}

variable "backup_region" {
  description = "Second region that receives the replicated database backups (not var.region)."
  type        = string
  default     = "eu-west-1"
}

# ---- alarms ----

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm once)."
  type        = list(string)
  default     = []
}

variable "alarm_pagerduty_endpoint" {
  description = "PagerDuty CloudWatch integration URL subscribed to the alarm topic; empty for none."
  type        = string
  default     = ""
}

variable "alarm_slack_endpoint" {
  description = "HTTPS endpoint relaying the alarm topic to Slack (it must confirm the SNS subscription); empty for none."
  type        = string
  default     = ""
}

variable "alarm_cpu_percent" {
  description = "ECS service average CPU (%) above which the CPU alarm fires."
  type        = number
  default     = 80
}

variable "alarm_memory_percent" {
  description = "ECS service average memory (%) above which the memory alarm fires."
  type        = number
  default     = 85
}

variable "alarm_5xx_percent" {
  description = "Share of requests answered 5xx (%) above which the 5xx alarm fires."
  type        = number
  default     = 5
}

variable "alarm_db_connections" {
  description = "Database connections above which the connections alarm fires (keep it under max_connections; max_count x pool_size is the most the tasks open)."
  type        = number
  default     = 300
}

variable "alarm_db_free_storage_gib" {
  description = "Free database storage (GiB) under which the storage alarm fires."
  type        = number
  default     = 10
}

variable "redis_transit_encryption" {
  description = "TLS between the tasks and Redis. The server's Redis client speaks plain redis:// only: with TLS on, the tasks get no COMMUNITY_REDIS and rate limits are per task."
  type        = bool
  default     = false
}

# ---- uploads ----

variable "uploads_s3" {
  description = "Give the API the uploads bucket (COMMUNITY_S3_*). It signs with the task role's credentials (iam.tf), so no key is needed."
  type        = bool
  default     = false
}

variable "uploads_cors_origins" {
  description = "Browser origins allowed to PUT and GET the uploads bucket through presigned URLs; empty: https://<domain>."
  type        = list(string)
  default     = []
}

variable "uploads_replication" {
  description = "Replicate the uploads bucket to a bucket in var.backup_region (S3 Replication Time Control: 15 minutes)."
  type        = bool
  default     = false
}

# ---- read replica ----

variable "db_read_replica" {
  description = "A read replica of the database in the same region (reports, pg_dump off the primary, a copy that can be promoted), with a replica lag alarm."
  type        = bool
  default     = false
}

# ---- server metrics in CloudWatch ----

variable "metrics_collector" {
  description = "Run the ADOT collector beside each API task, writing the job queue metrics to CloudWatch (needed by the queue alarms)."
  type        = bool
  default     = true
}

variable "metrics_collector_image" {
  description = "Image of the AWS Distro for OpenTelemetry collector."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the server's metrics (dimension `environment`)."
  type        = string
  default     = "Community"
}

variable "alarm_replica_lag_seconds" {
  description = "Replica lag (s) above which the replica lag alarm fires."
  type        = number
  default     = 300
}

variable "alarm_queue_depth" {
  description = "Jobs waiting in one queue above which the queue backlog alarm fires."
  type        = number
  default     = 1000
}

variable "alarm_queue_age_seconds" {
  description = "Age (s) of the oldest waiting job above which the stalled queue alarm fires."
  type        = number
  default     = 600
}

variable "alarm_uploads_replication_seconds" {
  description = "S3 replication latency (s) of the uploads bucket above which its alarm fires (the RPO is 15 minutes)."
  type        = number
  default     = 900
}

# ---- deployments ----

variable "deployment_config" {
  description = "CodeDeploy configuration of the API and web deployments: CodeDeployDefault.ECSAllAtOnce, or a canary/linear one such as CodeDeployDefault.ECSCanary10Percent5Minutes."
  type        = string
  default     = "CodeDeployDefault.ECSAllAtOnce"
}

variable "blue_termination_minutes" {
  description = "Minutes the previous task set stays up after the traffic moved (a rollback in that time is instant, and the alarms can still trigger it)."
  type        = number
  default     = 30
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose CD workflow deploys this environment (OIDC role <prefix>-deploy); empty: no role."
  type        = string
  default     = ""
}

variable "github_environment" {
  description = "GitHub environment whose jobs may assume the deploy role (the token's sub repo:<owner/name>:environment:<this>); empty: var.environment."
  type        = string
  default     = ""
}

variable "github_oidc_provider_arn" {
  description = "ARN of the account's existing token.actions.githubusercontent.com OIDC provider (one per account); empty: this configuration creates it."
  type        = string
  default     = ""
}

variable "image_source_repository_arns" {
  description = "ECR repositories the deploy role may pull from to promote an image (production: staging's two repositories)."
  type        = list(string)
  default     = []
}
