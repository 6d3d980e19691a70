-- The path to work (services/pathways) and the employers of the network
-- (services/employers): DESIGN sections 1 to 3, issue 8.
--
-- Ownership (DESIGN section 5): services/employers owns employers,
-- employer_contacts, employer_scouting, openings and opening_limits (shared
-- network-wide: no personal data of participants). services/pathways owns
-- every other table here: all of it is the `employment` category of a person.
--
-- Durations are whole minutes, money whole euro cents: no floating point.
-- The vocabularies below are also the Go constants of the two packages.

-- Employers -------------------------------------------------------------

CREATE TABLE employers (
	id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name               text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	-- partita IVA: 11 digits whose last is the Luhn check digit (checked in Go)
	vat_number         char(11) NOT NULL UNIQUE CHECK (vat_number ~ '^[0-9]{11}$'),
	ateco_code         text NOT NULL CHECK (ateco_code ~ '^[0-9]{2}(\.[0-9]{1,2}){0,2}$'),
	ateco_version      text NOT NULL CHECK (ateco_version IN ('2007', '2025')),
	size               text NOT NULL CHECK (size IN ('micro', 'small', 'medium', 'large')),
	employees          integer CHECK (employees >= 0),
	-- the employer must hire under Law 68/1999 (art. 3: 15 or more employees)
	l68_obligation     boolean NOT NULL DEFAULT false,
	municipality_istat char(6) REFERENCES municipalities (istat_code),
	address            text NOT NULL DEFAULT '' CHECK (length(address) <= 300),
	created_by_tenant  uuid NOT NULL REFERENCES tenants (id),
	created_by_user    uuid REFERENCES users (id),
	version            integer NOT NULL DEFAULT 1 CHECK (version > 0),
	created_at         timestamptz NOT NULL DEFAULT now(),
	updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employers_name_idx ON employers (lower(name), id);

-- The employer's contact persons (business contact data).
CREATE TABLE employer_contacts (
	id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	employer_id       uuid NOT NULL REFERENCES employers (id),
	name              text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	role              text NOT NULL DEFAULT '' CHECK (length(role) <= 200),
	phone             text NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
	email             text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
	created_by_tenant uuid NOT NULL REFERENCES tenants (id),
	created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employer_contacts_employer_idx ON employer_contacts (employer_id, created_at, id);

-- The scouting log: each contact with an employer, its outcome and the next step.
CREATE TABLE employer_scouting (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	employer_id  uuid NOT NULL REFERENCES employers (id),
	contact_id   uuid REFERENCES employer_contacts (id),
	tenant_id    uuid NOT NULL REFERENCES tenants (id),
	user_id      uuid REFERENCES users (id),
	contacted_on date NOT NULL,
	channel      text NOT NULL CHECK (channel IN ('visit', 'phone', 'email', 'event', 'other')),
	outcome      text NOT NULL CHECK (outcome IN ('interested', 'not_interested', 'no_answer', 'call_back', 'opening', 'agreement')),
	notes        text NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
	next_step    text NOT NULL DEFAULT '' CHECK (length(next_step) <= 1000),
	next_step_on date,
	created_at   timestamptz NOT NULL DEFAULT now(),
	CHECK (next_step_on IS NULL OR next_step_on >= contacted_on)
);
CREATE INDEX employer_scouting_employer_idx ON employer_scouting (employer_id, contacted_on, id);

CREATE TABLE openings (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	employer_id         uuid NOT NULL REFERENCES employers (id),
	tenant_id           uuid NOT NULL REFERENCES tenants (id),
	user_id             uuid REFERENCES users (id),
	role                text NOT NULL CHECK (role <> '' AND length(role) <= 200),
	tasks               text NOT NULL DEFAULT '' CHECK (length(tasks) <= 4000),
	kind                text NOT NULL CHECK (kind IN ('laboratorio_preformazione', 'tirocinio', 'percorso_in_azienda',
	                                                  'inserimento_borsa_lavoro', 'formazione_esterna', 'assunzione')),
	minutes_per_week    integer NOT NULL CHECK (minutes_per_week > 0 AND minutes_per_week <= 48 * 60),
	requirements        text NOT NULL DEFAULT '' CHECK (length(requirements) <= 4000),
	accessibility_notes text NOT NULL DEFAULT '' CHECK (length(accessibility_notes) <= 4000),
	status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'filled', 'closed')),
	opened_on           date NOT NULL,
	version             integer NOT NULL DEFAULT 1 CHECK (version > 0),
	created_at          timestamptz NOT NULL DEFAULT now(),
	updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX openings_employer_idx ON openings (employer_id, opened_on);
CREATE INDEX openings_status_idx ON openings (status, opened_on, id);

-- What the tasks of an opening allow: the highest assessment score (ICF-style
-- difficulty, 0 none to 4 complete) in an area.
CREATE TABLE opening_limits (
	opening_id uuid NOT NULL REFERENCES openings (id),
	area       text NOT NULL CHECK (area IN ('functioning', 'autonomy', 'relational', 'work_skills', 'motivation', 'context_barriers')),
	max_score  smallint NOT NULL CHECK (max_score BETWEEN 0 AND 4),
	PRIMARY KEY (opening_id, area)
);

-- Stages of a participant's path -----------------------------------------

CREATE TABLE pathway_stages (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id  uuid NOT NULL REFERENCES persons (id),
	-- 1, 2, ... per person: the version a change gives in If-Match
	seq        integer NOT NULL CHECK (seq > 0),
	stage      text NOT NULL CHECK (stage IN ('selection', 'initial_assessment', 'orientation', 'employability_assessment',
	                                         'plan', 'in_placement', 'follow_up', 'closed')),
	entered_on date NOT NULL,
	reason     text NOT NULL DEFAULT '',
	note       text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
	tenant_id  uuid NOT NULL REFERENCES tenants (id),
	user_id    uuid REFERENCES users (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (person_id, seq),
	-- closing needs a reason, and only closing has one
	CHECK ((stage = 'closed') = (reason <> '')),
	CHECK (reason IN ('', 'completed', 'hired', 'withdrew', 'not_eligible', 'moved_away', 'health', 'lost_contact', 'other'))
);

-- Assessments (bilancio delle competenze) --------------------------------

CREATE TABLE assessments (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id   uuid NOT NULL REFERENCES persons (id),
	tenant_id   uuid NOT NULL REFERENCES tenants (id),
	operator_id uuid NOT NULL,
	assessed_on date NOT NULL,
	strengths   text[] NOT NULL DEFAULT '{}',
	limits      text[] NOT NULL DEFAULT '{}',
	interests   text[] NOT NULL DEFAULT '{}',
	synthesis   text NOT NULL DEFAULT '' CHECK (length(synthesis) <= 8000),
	created_by  uuid REFERENCES users (id),
	created_at  timestamptz NOT NULL DEFAULT now(),
	-- the operator is staff of the tenant that ran the assessment
	FOREIGN KEY (operator_id, tenant_id) REFERENCES memberships (user_id, tenant_id)
);
CREATE INDEX assessments_person_idx ON assessments (person_id, assessed_on, created_at);

CREATE TABLE assessment_scores (
	assessment_id uuid NOT NULL REFERENCES assessments (id),
	area          text NOT NULL CHECK (area IN ('functioning', 'autonomy', 'relational', 'work_skills', 'motivation',
	                                           'context_facilitators', 'context_barriers')),
	score         smallint NOT NULL CHECK (score BETWEEN 0 AND 4),
	note          text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
	PRIMARY KEY (assessment_id, area)
);

CREATE TABLE assessment_sessions (
	id            bigserial PRIMARY KEY,
	assessment_id uuid NOT NULL REFERENCES assessments (id),
	held_on       date NOT NULL,
	minutes       integer NOT NULL CHECK (minutes > 0 AND minutes <= 24 * 60)
);
CREATE INDEX assessment_sessions_assessment_idx ON assessment_sessions (assessment_id, held_on);

-- Individual action plans, in versions -----------------------------------

CREATE TABLE plans (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id     uuid NOT NULL REFERENCES persons (id),
	version       integer NOT NULL CHECK (version > 0),
	supersedes    uuid REFERENCES plans (id),
	assessment_id uuid REFERENCES assessments (id),
	-- draft: being written; signed: in force (all three signatures);
	-- superseded: a later version was signed
	status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'signed', 'superseded')),
	-- bumped by every change of a draft: its If-Match
	revision      integer NOT NULL DEFAULT 1 CHECK (revision > 0),
	tenant_id     uuid NOT NULL REFERENCES tenants (id),
	created_by    uuid REFERENCES users (id),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	signed_at     timestamptz,
	UNIQUE (person_id, version),
	CHECK ((status = 'draft') = (signed_at IS NULL))
);
CREATE UNIQUE INDEX plans_one_draft_idx ON plans (person_id) WHERE status = 'draft';
CREATE UNIQUE INDEX plans_one_in_force_idx ON plans (person_id) WHERE status = 'signed';

CREATE TABLE plan_objectives (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	plan_id     uuid NOT NULL REFERENCES plans (id),
	position    integer NOT NULL CHECK (position > 0),
	area        text NOT NULL CHECK (area IN ('functioning', 'autonomy', 'relational', 'work_skills', 'motivation',
	                                         'context_facilitators', 'context_barriers')),
	description text NOT NULL CHECK (description <> '' AND length(description) <= 2000),
	UNIQUE (plan_id, position)
);

CREATE TABLE plan_actions (
	id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	plan_id                 uuid NOT NULL REFERENCES plans (id),
	objective_id            uuid NOT NULL REFERENCES plan_objectives (id),
	position                integer NOT NULL CHECK (position > 0),
	kind                    text NOT NULL CHECK (kind IN ('laboratorio_preformazione', 'tirocinio', 'percorso_in_azienda',
	                                                      'inserimento_borsa_lavoro', 'formazione_esterna', 'assunzione')),
	description             text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
	responsible_tenant_id   uuid NOT NULL REFERENCES tenants (id),
	responsible_operator_id uuid,
	start_on                date NOT NULL,
	end_on                  date NOT NULL,
	planned_minutes         integer NOT NULL CHECK (planned_minutes > 0),
	indicator               text NOT NULL CHECK (indicator <> '' AND length(indicator) <= 1000),
	expected_result         text NOT NULL CHECK (expected_result <> '' AND length(expected_result) <= 1000),
	UNIQUE (plan_id, position),
	CHECK (end_on >= start_on),
	FOREIGN KEY (responsible_operator_id, responsible_tenant_id) REFERENCES memberships (user_id, tenant_id)
);
CREATE INDEX plan_actions_plan_idx ON plan_actions (plan_id);

-- The signatures of a plan, as recorded from the signed paper: who, when.
CREATE TABLE plan_signatures (
	plan_id     uuid NOT NULL REFERENCES plans (id),
	signer      text NOT NULL CHECK (signer IN ('participant', 'case_manager', 'service')),
	signer_name text NOT NULL CHECK (signer_name <> '' AND length(signer_name) <= 200),
	signed_on   date NOT NULL,
	tenant_id   uuid NOT NULL REFERENCES tenants (id),
	user_id     uuid REFERENCES users (id),
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (plan_id, signer)
);

-- A plan that anyone has signed changes only by a new version: its
-- objectives and actions are frozen from the first signature on.
CREATE FUNCTION plan_content_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	pid uuid;
BEGIN
	IF TG_OP = 'DELETE' THEN
		pid := OLD.plan_id;
	ELSE
		pid := NEW.plan_id;
	END IF;
	IF EXISTS (SELECT 1 FROM plan_signatures WHERE plan_id = pid)
	   OR EXISTS (SELECT 1 FROM plans WHERE id = pid AND status <> 'draft') THEN
		RAISE EXCEPTION 'plan % is signed: it changes only by a new version', pid USING ERRCODE = 'check_violation';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER plan_objectives_frozen BEFORE INSERT OR UPDATE OR DELETE ON plan_objectives
	FOR EACH ROW EXECUTE FUNCTION plan_content_frozen();
CREATE TRIGGER plan_actions_frozen BEFORE INSERT OR UPDATE OR DELETE ON plan_actions
	FOR EACH ROW EXECUTE FUNCTION plan_content_frozen();

-- Reviews of a plan in force: the outcome of an objective or an action.
CREATE TABLE plan_reviews (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	plan_id      uuid NOT NULL REFERENCES plans (id),
	objective_id uuid REFERENCES plan_objectives (id),
	action_id    uuid REFERENCES plan_actions (id),
	reviewed_on  date NOT NULL,
	outcome      text NOT NULL CHECK (outcome IN ('achieved', 'partly', 'not_achieved')),
	notes        text NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
	tenant_id    uuid NOT NULL REFERENCES tenants (id),
	user_id      uuid REFERENCES users (id),
	created_at   timestamptz NOT NULL DEFAULT now(),
	CHECK ((objective_id IS NULL) <> (action_id IS NULL))
);
CREATE INDEX plan_reviews_plan_idx ON plan_reviews (plan_id, reviewed_on);

-- Activities: hours of supporting work ------------------------------------

CREATE TABLE activities (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- NULL: work for the network, not for one participant (scouting, matching)
	person_id      uuid REFERENCES persons (id),
	tenant_id      uuid NOT NULL REFERENCES tenants (id),
	operator_id    uuid NOT NULL,
	kind           text NOT NULL CHECK (kind IN ('orientamento', 'tutoraggio', 'coaching', 'matching', 'scouting',
	                                            'laboratorio', 'formazione')),
	held_on        date NOT NULL,
	minutes        integer NOT NULL CHECK (minutes > 0 AND minutes <= 24 * 60),
	note           text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
	created_by     uuid REFERENCES users (id),
	created_at     timestamptz NOT NULL DEFAULT now(),
	CHECK (person_id IS NOT NULL OR kind IN ('scouting', 'matching')),
	FOREIGN KEY (operator_id, tenant_id) REFERENCES memberships (user_id, tenant_id)
);
CREATE INDEX activities_person_idx ON activities (person_id, held_on, id) WHERE person_id IS NOT NULL;
CREATE INDEX activities_tenant_idx ON activities (tenant_id, held_on);
CREATE INDEX activities_held_on_idx ON activities (held_on);

-- Placements ---------------------------------------------------------------

CREATE TABLE placements (
	id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id         uuid NOT NULL REFERENCES persons (id),
	tenant_id         uuid NOT NULL REFERENCES tenants (id),
	employer_id       uuid REFERENCES employers (id),
	plan_action_id    uuid REFERENCES plan_actions (id),
	kind              text NOT NULL CHECK (kind IN ('laboratorio_preformazione', 'tirocinio', 'percorso_in_azienda',
	                                               'inserimento_borsa_lavoro', 'formazione_esterna', 'assunzione')),
	start_on          date NOT NULL,
	-- the planned end in force: the original one, or the last extension's
	planned_end_on    date NOT NULL,
	ended_on          date,
	end_reason        text NOT NULL DEFAULT '' CHECK (length(end_reason) <= 1000),
	minutes_per_week  integer NOT NULL CHECK (minutes_per_week > 0 AND minutes_per_week <= 48 * 60),
	tutor_name        text NOT NULL DEFAULT '' CHECK (length(tutor_name) <= 200),
	tutor_phone       text NOT NULL DEFAULT '' CHECK (length(tutor_phone) <= 40),
	tutor_email       text NOT NULL DEFAULT '' CHECK (length(tutor_email) <= 254),
	case_manager_id   uuid NOT NULL,
	monthly_cap_cents bigint CHECK (monthly_cap_cents >= 0),
	hourly_rate_cents bigint CHECK (hourly_rate_cents >= 0),
	inail_ref         text NOT NULL DEFAULT '' CHECK (length(inail_ref) <= 100),
	rc_policy_ref     text NOT NULL DEFAULT '' CHECK (length(rc_policy_ref) <= 100),
	-- the target group and the longest length (months, NULL: none) applied
	-- when the placement was recorded
	target_group      text NOT NULL CHECK (target_group IN ('disabile_l68', 'salute_mentale')),
	max_months        integer CHECK (max_months > 0),
	version           integer NOT NULL DEFAULT 1 CHECK (version > 0),
	created_by        uuid REFERENCES users (id),
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now(),
	CHECK (planned_end_on >= start_on),
	CHECK (ended_on IS NULL OR ended_on >= start_on),
	CHECK ((ended_on IS NULL) = (end_reason = '')),
	CHECK ((monthly_cap_cents IS NULL) = (hourly_rate_cents IS NULL)),
	CHECK (kind <> 'assunzione' OR monthly_cap_cents IS NULL),
	FOREIGN KEY (case_manager_id, tenant_id) REFERENCES memberships (user_id, tenant_id)
);
CREATE INDEX placements_person_idx ON placements (person_id, start_on);
CREATE INDEX placements_kind_idx ON placements (kind, start_on);

CREATE TABLE placement_extensions (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	placement_id    uuid NOT NULL REFERENCES placements (id),
	previous_end_on date NOT NULL,
	new_end_on      date NOT NULL,
	reason          text NOT NULL CHECK (reason <> '' AND length(reason) <= 1000),
	tenant_id       uuid NOT NULL REFERENCES tenants (id),
	user_id         uuid REFERENCES users (id),
	created_at      timestamptz NOT NULL DEFAULT now(),
	CHECK (new_end_on > previous_end_on)
);
CREATE INDEX placement_extensions_placement_idx ON placement_extensions (placement_id, created_at);

-- Monthly attendance and the allowance (borsa lavoro) it earns: the cap and
-- rate in force are copied in, and the allowance is min(cap, hours x rate)
-- rounded to the nearest cent (half up), as pathways.Allowance computes it.
CREATE TABLE placement_attendance (
	placement_id     uuid NOT NULL REFERENCES placements (id),
	month            date NOT NULL CHECK (extract(day FROM month) = 1),
	attended_minutes integer NOT NULL CHECK (attended_minutes >= 0),
	cap_cents        bigint NOT NULL DEFAULT 0 CHECK (cap_cents >= 0),
	rate_cents       bigint NOT NULL DEFAULT 0 CHECK (rate_cents >= 0),
	allowance_cents  bigint NOT NULL CHECK (allowance_cents = least(cap_cents, (attended_minutes::bigint * rate_cents + 30) / 60)),
	note             text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
	version          integer NOT NULL DEFAULT 1 CHECK (version > 0),
	tenant_id        uuid NOT NULL REFERENCES tenants (id),
	user_id          uuid REFERENCES users (id),
	updated_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (placement_id, month)
);

-- Follow-ups: the status at exit and six months later -----------------------

CREATE TABLE follow_ups (
	id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id            uuid NOT NULL REFERENCES persons (id),
	tenant_id            uuid NOT NULL REFERENCES tenants (id),
	user_id              uuid REFERENCES users (id),
	kind                 text NOT NULL CHECK (kind IN ('at_exit', 'six_months')),
	exit_on              date NOT NULL,
	observed_on          date NOT NULL,
	status               text NOT NULL CHECK (status IN ('employed', 'in_training', 'job_seeking', 'inactive')),
	self_employed        boolean NOT NULL DEFAULT false,
	contract             text NOT NULL DEFAULT '' CHECK (contract IN ('', 'permanent', 'fixed_term', 'apprenticeship', 'other')),
	qualification_gained boolean NOT NULL DEFAULT false,
	-- six months only: the participant's labour-market situation improved
	improved_situation   boolean,
	employer_id          uuid REFERENCES employers (id),
	note                 text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
	created_at           timestamptz NOT NULL DEFAULT now(),
	UNIQUE (person_id, kind, exit_on),
	CHECK (observed_on >= exit_on),
	CHECK (status = 'employed' OR (NOT self_employed AND contract = '' AND employer_id IS NULL)),
	CHECK ((kind = 'six_months') = (improved_situation IS NOT NULL))
);
CREATE INDEX follow_ups_exit_idx ON follow_ups (exit_on, kind);
