-- Lists of persons in name order, driven by the acting tenant's links
-- (issue 4, performance).
--
-- A list shows the persons a tenant has an active link to, in the order of
-- lower(family name), lower(given name), id. Walking all persons in name
-- order and probing each one's links reads about (all persons / the
-- tenant's persons) rows per row shown: 9 for the largest municipality of
-- the zone, hundreds for the smallest. Each link therefore carries its
-- person's sort key, kept equal to the person's by the triggers below, and
-- an index on (tenant, sort key) lets a list read the tenant's own links in
-- name order and stop after one page.

ALTER TABLE person_links ADD COLUMN sort_family text, ADD COLUMN sort_given text;

UPDATE person_links l SET sort_family = lower(p.family_name), sort_given = lower(p.given_name)
FROM persons p WHERE p.id = l.person_id;

ALTER TABLE person_links ALTER COLUMN sort_family SET NOT NULL, ALTER COLUMN sort_given SET NOT NULL;

-- A new link (or one moved to another person) takes its person's key.
CREATE FUNCTION person_links_sort_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	SELECT lower(p.family_name), lower(p.given_name) INTO NEW.sort_family, NEW.sort_given
	FROM persons p WHERE p.id = NEW.person_id;
	RETURN NEW;
END
$$;

CREATE TRIGGER person_links_sort_key BEFORE INSERT OR UPDATE OF person_id, sort_family, sort_given ON person_links
	FOR EACH ROW EXECUTE FUNCTION person_links_sort_key();

-- A renamed person's links follow.
CREATE FUNCTION persons_sort_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE person_links SET sort_family = lower(NEW.family_name), sort_given = lower(NEW.given_name)
	WHERE person_id = NEW.id;
	RETURN NULL;
END
$$;

CREATE TRIGGER persons_sort_key AFTER UPDATE OF family_name, given_name ON persons
	FOR EACH ROW WHEN (lower(OLD.family_name) IS DISTINCT FROM lower(NEW.family_name)
		OR lower(OLD.given_name) IS DISTINCT FROM lower(NEW.given_name))
	EXECUTE FUNCTION persons_sort_key();

-- The tenant's open links in name order, with what the list filter checks
-- on each link, so the walk reads the index alone.
CREATE INDEX person_links_tenant_name_idx ON person_links (tenant_id, sort_family, sort_given, person_id)
	INCLUDE (kind, scope, valid_from, valid_until) WHERE ended_at IS NULL;

