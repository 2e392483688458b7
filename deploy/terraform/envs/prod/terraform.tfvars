# prod: Multi-AZ database with 14 days of point-in-time recovery, backups and
# uploads replicated to a second region, a read replica, alarms to e-mail and
# PagerDuty.
environment     = "prod"
region          = "eu-central-1"
certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000003"
domain          = "community.example.org"

min_count                = 2
max_count                = 10
db_multi_az              = true
db_backup_retention_days = 14
db_backup_replication    = true
backup_region            = "eu-west-1"
db_read_replica          = true
uploads_replication      = true
redis_num_nodes          = 2
deletion_protection      = true

deployment_config        = "CodeDeployDefault.ECSCanary10Percent5Minutes"
blue_termination_minutes = 60

# The CD workflow promotes staging's image by digest; both in one account
# here, so prod uses the OIDC provider that staging created.
github_repository        = "example-org/libcommunity"
github_environment       = "production"
github_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
image_source_repository_arns = [
  "arn:aws:ecr:eu-central-1:123456789012:repository/community-staging",
  "arn:aws:ecr:eu-central-1:123456789012:repository/community-staging-web",
]

alarm_emails = ["ops@example.org"]
# alarm_pagerduty_endpoint = "https://events.pagerduty.com/integration/<key>/enqueue"
# alarm_slack_endpoint     = "https://<relay>/sns"
