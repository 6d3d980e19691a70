-- Staff identity: users, their memberships in tenants and their roles there,
-- sessions, and the record of failed logins used for throttling.

CREATE TABLE users (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	email         text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
	display_name  text NOT NULL DEFAULT '',
	password_hash text NOT NULL,
	disabled_at   timestamptz,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
	user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	tenant_id   uuid NOT NULL REFERENCES tenants (id),
	disabled_at timestamptz,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX memberships_tenant_id_idx ON memberships (tenant_id);

-- The roles a user holds in a tenant. These rows are the `g` (role) facts the
-- Casbin enforcer loads: policies owns the enforcer, tenants owns the rows.
CREATE TABLE membership_roles (
	user_id    uuid NOT NULL,
	tenant_id  uuid NOT NULL,
	role       text NOT NULL CHECK (role IN ('tenant_admin', 'social_worker', 'health_worker', 'job_coach',
	                                         'placement_officer', 'coordinator', 'network_admin', 'privacy_officer')),
	granted_at timestamptz NOT NULL DEFAULT now(),
	granted_by uuid REFERENCES users (id),
	PRIMARY KEY (user_id, tenant_id, role),
	FOREIGN KEY (user_id, tenant_id) REFERENCES memberships (user_id, tenant_id) ON DELETE CASCADE
);

-- Sessions: only the SHA-256 of the bearer token is stored.
CREATE TABLE sessions (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	revoked_at   timestamptz,
	user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Failed logins, per account (lower-case email, also for unknown ones) and
-- per client address, for throttling that holds across instances.
CREATE TABLE login_failures (
	id          bigserial PRIMARY KEY,
	email_lower text NOT NULL,
	client_addr text NOT NULL,
	failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email_lower, failed_at);
CREATE INDEX login_failures_addr_idx ON login_failures (client_addr, failed_at);
