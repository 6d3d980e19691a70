-- Tenants of the network and the municipality reference table.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Municipalities with their ISTAT codes and validity, including those that
-- no longer exist (merged), so that residence codes on older records resolve.
CREATE TABLE municipalities (
	istat_code      char(6) PRIMARY KEY CHECK (istat_code ~ '^[0-9]{6}$'),
	name            text NOT NULL CHECK (name <> ''),
	province        char(2) NOT NULL,
	valid_from      date,
	valid_until     date,
	successor_istat char(6) REFERENCES municipalities (istat_code),
	in_zone         boolean NOT NULL DEFAULT false,
	zone_since      date,
	CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_from <= valid_until),
	CHECK (successor_istat IS NULL OR valid_until IS NOT NULL)
);

CREATE TABLE tenants (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 63),
	name       text NOT NULL CHECK (name <> ''),
	kind       text NOT NULL CHECK (kind IN ('municipality', 'health_service', 'employment_office',
	                                         'third_sector', 'training_agency', 'coordinator')),
	parent_id  uuid REFERENCES tenants (id),
	istat_code char(6) REFERENCES municipalities (istat_code),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK (parent_id IS NULL OR parent_id <> id),
	CHECK ((kind = 'municipality') = (istat_code IS NOT NULL))
);

CREATE UNIQUE INDEX tenants_istat_code_key ON tenants (istat_code) WHERE istat_code IS NOT NULL;
CREATE INDEX tenants_parent_id_idx ON tenants (parent_id) WHERE parent_id IS NOT NULL;
