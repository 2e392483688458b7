# rds.tf - PostgreSQL 15 on RDS: private subnets, encrypted storage with
# autoscaling, Multi-AZ standby (var.db_multi_az), automated backups with
# point-in-time recovery (var.db_backup_retention_days), TLS required.
#
# pgvector ships with RDS PostgreSQL 15 and needs no shared_preload_libraries:
# run `CREATE EXTENSION IF NOT EXISTS vector;` once as the master user
# (docs/operations-guide.md). The password is an ephemeral input written,
# write-only, to the instance and into the COMMUNITY_DB URI secret
# (secrets.tf); it is in neither plan nor state.

resource "aws_db_subnet_group" "main" {
  name       = local.prefix
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "postgres15" {
  name        = "${local.prefix}-postgres15"
  family      = "postgres15"
  description = "community: TLS only, slow statement log, idle transaction limit"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }
}

resource "aws_db_instance" "main" {
  identifier     = local.prefix
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name  = var.db_name
  username = var.db_username
  # Sent on create and whenever var.secrets_version changes (secrets.tf).
  password_wo         = var.db_password
  password_wo_version = var.secrets_version
  port                = 5432

  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.postgres15.name
  publicly_accessible    = false

  multi_az                = var.db_multi_az
  backup_retention_period = var.db_backup_retention_days
  backup_window           = "02:00-03:00"
  maintenance_window      = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot   = true

  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.prefix}-final"

  auto_minor_version_upgrade      = true
  allow_major_version_upgrade     = false
  apply_immediately               = false
  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
}

# A read replica in the same region (var.db_read_replica): asynchronous, for
# reports and `community backup` off the primary, and a copy that can be
# promoted (`aws rds promote-read-replica`) in minutes. It replicates bad
# writes too: point-in-time recovery stays the answer to those. The replica
# lag alarm (alarms.tf) watches it.
resource "aws_db_instance" "replica" {
  count               = var.db_read_replica ? 1 : 0
  identifier          = "${local.prefix}-replica"
  replicate_source_db = aws_db_instance.main.identifier
  instance_class      = var.db_instance_class

  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.postgres15.name
  publicly_accessible    = false
  multi_az               = false

  backup_retention_period = 0
  skip_final_snapshot     = true
  deletion_protection     = var.deletion_protection

  auto_minor_version_upgrade      = true
  apply_immediately               = false
  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
}
