# ses.tf - the SES domain identity for outgoing mail (var.domain) with DKIM.
# With var.route53_zone_id the verification and DKIM records are published
# here; otherwise publish the ses_* outputs in your DNS. A new SES account is
# in the sandbox: request production access before sending to members.

resource "aws_ses_domain_identity" "main" {
  domain = var.domain
}

resource "aws_ses_domain_dkim" "main" {
  domain = aws_ses_domain_identity.main.domain
}

resource "aws_route53_record" "ses_verification" {
  count   = var.route53_zone_id == "" ? 0 : 1
  zone_id = var.route53_zone_id
  name    = "_amazonses.${var.domain}"
  type    = "TXT"
  ttl     = 600
  records = [aws_ses_domain_identity.main.verification_token]
}

resource "aws_route53_record" "ses_dkim" {
  count   = var.route53_zone_id == "" ? 0 : 3
  zone_id = var.route53_zone_id
  name    = "${aws_ses_domain_dkim.main.dkim_tokens[count.index]}._domainkey.${var.domain}"
  type    = "CNAME"
  ttl     = 600
  records = ["${aws_ses_domain_dkim.main.dkim_tokens[count.index]}.dkim.amazonses.com"]
}

resource "aws_ses_domain_identity_verification" "main" {
  count  = var.route53_zone_id == "" ? 0 : 1
  domain = aws_ses_domain_identity.main.id

  depends_on = [aws_route53_record.ses_verification]
}
