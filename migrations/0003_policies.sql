-- The Casbin policy: the static access matrix (casbin_rule, `p` rows only),
-- its change history, and the change counter every instance watches.
--
-- Role assignments (`g` rows) are not stored here: they are the
-- membership_roles rows of 0002, which the policies adapter joins in.
-- The default matrix is seeded from Go (policies.Seed), not here, so that the
-- Go list is its one source.

CREATE TABLE casbin_rule (
	id    bigserial PRIMARY KEY,
	ptype text NOT NULL CHECK (ptype = 'p'),
	v0    text NOT NULL DEFAULT '',
	v1    text NOT NULL DEFAULT '',
	v2    text NOT NULL DEFAULT '',
	v3    text NOT NULL DEFAULT '',
	v4    text NOT NULL DEFAULT '',
	v5    text NOT NULL DEFAULT '',
	UNIQUE (ptype, v0, v1, v2, v3, v4, v5)
);

-- Every accepted change of the matrix, with who made it and the full set of
-- rules after it. The highest version is the one If-Match compares with.
CREATE TABLE policy_versions (
	version    bigserial PRIMARY KEY,
	changed_by uuid REFERENCES users (id),
	changed_at timestamptz NOT NULL DEFAULT now(),
	summary    text NOT NULL CHECK (summary <> ''),
	rules      jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array')
);

-- One row: a counter bumped, in the same transaction, by every statement that
-- changes what the enforcer loads (rules, role assignments, disabled
-- memberships or users, tenant slugs). Each bump is also announced on the
-- channel attivi_policy (delivered at commit), so running instances reload
-- within milliseconds; the counter is their safety net when a notification
-- is lost.
CREATE TABLE policy_state (
	id      boolean PRIMARY KEY DEFAULT true CHECK (id),
	version bigint NOT NULL DEFAULT 0
);
INSERT INTO policy_state DEFAULT VALUES;

CREATE FUNCTION policy_state_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v bigint;
BEGIN
	UPDATE policy_state SET version = version + 1 RETURNING version INTO v;
	PERFORM pg_notify('attivi_policy', v::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER casbin_rule_policy_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON casbin_rule
	FOR EACH STATEMENT EXECUTE FUNCTION policy_state_bump();

CREATE TRIGGER membership_roles_policy_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON membership_roles
	FOR EACH STATEMENT EXECUTE FUNCTION policy_state_bump();

CREATE TRIGGER memberships_policy_changed
	AFTER UPDATE OF disabled_at OR DELETE ON memberships
	FOR EACH STATEMENT EXECUTE FUNCTION policy_state_bump();

CREATE TRIGGER users_policy_changed
	AFTER UPDATE OF disabled_at OR DELETE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION policy_state_bump();

CREATE TRIGGER tenants_policy_changed
	AFTER UPDATE OF slug OR DELETE ON tenants
	FOR EACH STATEMENT EXECUTE FUNCTION policy_state_bump();
