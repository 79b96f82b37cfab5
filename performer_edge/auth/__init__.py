"""Auth: GoTrue-compatible sign-up, sign-in, sessions, MFA and admin API at /auth/v1.

Users, sessions, refresh tokens, factors and one-time tokens are events projected into `auth_*`
tables; rate-limit counters and the email outbox are node-local and never replicated.
"""
