# staging: production's shape at a smaller size.
environment     = "staging"
region          = "eu-central-1"
certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000002"
domain          = "staging.community.example.org"

single_nat_gateway       = true
min_count                = 1
max_count                = 4
db_multi_az              = false
db_backup_retention_days = 7
db_backup_replication    = false
redis_num_nodes          = 1
deletion_protection      = false

github_repository = "example-org/libcommunity"

alarm_emails = ["ops@example.org"]
