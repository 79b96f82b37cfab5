"""The `auth_*` projection tables (replicated through events) and the node-local outbox.

`auth_users` is what migrations reach as `auth.users` and policies as `auth.uid()`.
"""

from __future__ import annotations

AUTH_SCHEMA = """
CREATE TABLE auth_users(
    id TEXT PRIMARY KEY,
    aud TEXT NOT NULL DEFAULT 'authenticated',
    role TEXT NOT NULL DEFAULT 'authenticated',
    email TEXT,
    phone TEXT,
    encrypted_password TEXT,
    email_confirmed_at TEXT,
    phone_confirmed_at TEXT,
    confirmation_sent_at TEXT,
    recovery_sent_at TEXT,
    email_change TEXT,
    email_change_sent_at TEXT,
    phone_change TEXT,
    reauthentication_sent_at TEXT,
    invited_at TEXT,
    last_sign_in_at TEXT,
    raw_app_meta_data TEXT NOT NULL DEFAULT '{}',
    raw_user_meta_data TEXT NOT NULL DEFAULT '{}',
    is_anonymous INTEGER NOT NULL DEFAULT 0,
    is_sso_user INTEGER NOT NULL DEFAULT 0,
    banned_until TEXT,
    deleted_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX auth_users_email ON auth_users(email)
    WHERE email IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX auth_users_phone ON auth_users(phone)
    WHERE phone IS NOT NULL AND deleted_at IS NULL;
CREATE TABLE auth_identities(
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    identity_data TEXT NOT NULL DEFAULT '{}',
    email TEXT,
    last_sign_in_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE(provider, provider_id)
);
CREATE INDEX auth_identities_user ON auth_identities(user_id);
CREATE TABLE auth_sessions(
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    aal TEXT NOT NULL DEFAULT 'aal1',
    amr TEXT NOT NULL DEFAULT '[]',
    factor_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    refreshed_at TEXT,
    revoked_at TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);
CREATE TABLE auth_refresh_tokens(
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    parent_hash TEXT,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX auth_refresh_tokens_session ON auth_refresh_tokens(session_id);
CREATE INDEX auth_refresh_tokens_parent ON auth_refresh_tokens(parent_hash);
CREATE TABLE auth_mfa_factors(
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    friendly_name TEXT,
    factor_type TEXT NOT NULL,
    status TEXT NOT NULL,
    secret TEXT,
    phone TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_challenged_at TEXT
);
CREATE INDEX auth_mfa_factors_user ON auth_mfa_factors(user_id);
CREATE TABLE auth_mfa_challenges(
    id TEXT PRIMARY KEY,
    factor_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    verified_at TEXT,
    last_code_step INTEGER
);
CREATE TABLE auth_one_time_tokens(
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    token_type TEXT NOT NULL,
    relates_to TEXT,
    otp_hash TEXT,
    redirect_to TEXT,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at TEXT
);
CREATE INDEX auth_one_time_tokens_user ON auth_one_time_tokens(user_id, token_type);
CREATE INDEX auth_one_time_tokens_otp ON auth_one_time_tokens(otp_hash);
CREATE TABLE auth_flow_states(
    id TEXT PRIMARY KEY,
    auth_code_hash TEXT UNIQUE,
    user_id TEXT,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    authentication_method TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at TEXT
);
-- Node-local: the email this node sent (or would send without SMTP). Never replicated.
CREATE TABLE auth_outbox(
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    action_link TEXT,
    sent_at TEXT,
    error TEXT
);
"""

# Replicated tables and their primary keys: the only tables auth events may touch.
AUTH_TABLES: dict[str, str] = {
    "auth_users": "id",
    "auth_identities": "id",
    "auth_sessions": "id",
    "auth_refresh_tokens": "token_hash",
    "auth_mfa_factors": "id",
    "auth_mfa_challenges": "id",
    "auth_one_time_tokens": "token_hash",
    "auth_flow_states": "id",
}
