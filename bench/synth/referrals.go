package synth

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jmoiron/sqlx"
)

// ReferralBatch is the number of referrals written per transaction.
const ReferralBatch = 10_000

// referralStatuses are the statuses of synthetic referrals with their
// weights, and the path of statuses that leads to each (FHIR Task, as
// services/referrals moves them).
var referralStatuses = []weighted[string]{
	{"requested", 15}, {"accepted", 5}, {"in-progress", 20}, {"on-hold", 5},
	{"completed", 30}, {"rejected", 12}, {"cancelled", 6}, {"failed", 7},
}

var referralPaths = map[string][]string{
	"requested":   {"requested"},
	"accepted":    {"requested", "accepted"},
	"in-progress": {"requested", "accepted", "in-progress"},
	"on-hold":     {"requested", "accepted", "in-progress", "on-hold"},
	"completed":   {"requested", "accepted", "in-progress", "completed"},
	"rejected":    {"requested", "rejected"},
	"cancelled":   {"requested", "cancelled"},
	"failed":      {"requested", "accepted", "in-progress", "failed"},
}

var sharedSets = [][]string{{"identity", "employment"}, {"identity", "status", "employment"},
	{"identity", "contact", "employment", "status"}, {"identity", "contact", "disability", "employment", "status"}}

var referralReasons = []string{"valutazione delle competenze", "tirocinio in azienda", "laboratorio preformazione",
	"orientamento al lavoro", "inserimento con borsa lavoro", "formazione esterna"}

type referralRow struct {
	ID, PersonID, From, To, Reason, Priority, Status string
	Shared                                           []string
	ReasonCode, Outcome                              string
	Version                                          int
	CreatedAt, UpdatedAt                             time.Time
	ClosedAt                                         *time.Time
	events                                           []referralEvent
	link                                             *linkRow
}

type referralEvent struct {
	Version    int
	At         time.Time
	TenantID   string
	From, To   string
	ReasonCode string
	Outcome    string
}

// GenerateReferrals adds n synthetic referrals between the tenants of the
// network over the persons already in the database (run Generate first),
// reproducibly from seed: each goes from the person's owner to a
// cooperative or training agency, with the events of its history and the
// link it holds open (referral_recipient while requested, provider while
// accepted, in progress or on hold), as services/referrals would have left
// them. Requested ones were made in the last 30 days, so that some are
// overdue. A second run with the same seed adds nothing.
func GenerateReferrals(ctx context.Context, db *sqlx.DB, n int, seed uint64) error {
	if n <= 0 {
		return nil
	}
	net, err := loadNetwork(ctx, db)
	if err != nil {
		return err
	}
	var persons []struct {
		ID    string `db:"id"`
		Owner string `db:"owner"`
	}
	const q = `
SELECT p.id, (SELECT l.tenant_id FROM person_links l WHERE l.person_id = p.id AND l.kind = 'owner' AND l.ended_at IS NULL
	ORDER BY l.valid_from LIMIT 1) AS owner
FROM persons p
WHERE EXISTS (SELECT 1 FROM person_links l WHERE l.person_id = p.id AND l.kind = 'owner' AND l.ended_at IS NULL)
ORDER BY p.id`
	if err := db.SelectContext(ctx, &persons, q); err != nil {
		return fmt.Errorf("synthetic referrals: persons: %w", err)
	}
	if len(persons) == 0 {
		return fmt.Errorf("synthetic referrals: no persons with an owner: generate persons first")
	}
	recipients := append(append([]tenant{}, net.cooperatives...), net.trainers...)
	now := time.Now().UTC()
	open := map[[3]string]bool{}
	stream := func(i int) *rand.Rand {
		return rand.New(rand.NewPCG(splitmix(seed^0x5eed0fe11a15), splitmix(seed^splitmix(uint64(i)+0x9e37))))
	}
	for from := 0; from < n; from += ReferralBatch {
		to := min(from+ReferralBatch, n)
		batch := make([]referralRow, 0, to-from)
		for i := from; i < to; i++ {
			r := stream(i)
			p := persons[r.IntN(len(persons))]
			ref := referralRow{ID: newUUID(r), PersonID: p.ID, From: p.Owner, Reason: pick(r, referralReasons),
				Priority: pickWeighted(r, []weighted[string]{{"routine", 80}, {"urgent", 15}, {"asap", 5}}),
				Status:   pickWeighted(r, referralStatuses), Shared: pick(r, sharedSets)}
			closed := ref.Status == "completed" || ref.Status == "rejected" || ref.Status == "cancelled" || ref.Status == "failed"
			for tries := 0; ; tries++ {
				ref.To = pick(r, recipients).ID
				key := [3]string{ref.PersonID, ref.From, ref.To}
				if ref.To != ref.From && (closed || !open[key]) {
					if !closed {
						open[key] = true
					}
					break
				}
				if tries == 5 { // every recipient already has an open one: this one is closed
					ref.Status, closed = "completed", true
				}
			}
			if ref.Status == "requested" {
				ref.CreatedAt = now.Add(-time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
			} else {
				ref.CreatedAt = now.Add(-time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour))))
			}
			at := ref.CreatedAt
			path := referralPaths[ref.Status]
			for v, st := range path {
				ev := referralEvent{Version: v + 1, At: at, To: st, TenantID: ref.To}
				if v == 0 {
					ev.TenantID = ref.From
				} else {
					ev.From = path[v-1]
				}
				switch st {
				case "cancelled":
					ev.TenantID = ref.From
				case "rejected":
					ev.ReasonCode = pick(r, []string{"not_eligible", "no_capacity", "could_not_contact", "declined_by_person", "duplicate"})
					ref.ReasonCode = ev.ReasonCode
				case "completed":
					ev.Outcome = pick(r, []string{"hired", "internship", "training", "continuing", "dropped_out"})
					ref.Outcome = ev.Outcome
				}
				ref.events = append(ref.events, ev)
				ref.UpdatedAt = at
				if next := at.Add(time.Duration(1+r.IntN(60)) * 24 * time.Hour); next.Before(now) {
					at = next
				} else {
					at = at.Add(time.Duration(r.Int64N(int64(now.Sub(at)) + 1)))
				}
			}
			ref.Version = len(path)
			if closed {
				c := ref.UpdatedAt
				ref.ClosedAt = &c
			}
			switch ref.Status {
			case "requested":
				ref.link = &linkRow{ID: newUUID(r), PersonID: ref.PersonID, TenantID: ref.To, Kind: "referral_recipient",
					Source: "referral:" + ref.ID, Scope: ref.Shared, ValidFrom: ref.CreatedAt}
			case "accepted", "in-progress", "on-hold":
				ref.link = &linkRow{ID: newUUID(r), PersonID: ref.PersonID, TenantID: ref.To, Kind: "provider",
					Source: "referral:" + ref.ID, ValidFrom: ref.events[1].At}
			}
			batch = append(batch, ref)
		}
		if err := writeReferrals(ctx, db, batch); err != nil {
			return fmt.Errorf("synthetic referrals %d-%d: %w", from, to-1, err)
		}
	}
	if _, err := db.ExecContext(ctx, `ANALYZE referrals, referral_events, person_links`); err != nil {
		return fmt.Errorf("synthetic referrals: analyze: %w", err)
	}
	return nil
}

// writeReferrals stores a batch in one transaction: the referrals through a
// temporary table (one already present, or conflicting with an open one, is
// skipped), then by COPY the events and links of those added.
func writeReferrals(ctx context.Context, db *sqlx.DB, batch []referralRow) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	const temp = `
CREATE TEMP TABLE synth_referrals (
	id uuid, person_id uuid, from_tenant_id uuid, to_tenant_id uuid, reason text, priority text, shared_categories text[],
	status text, reason_code text, outcome text, version integer, created_at timestamptz, updated_at timestamptz, closed_at timestamptz
) ON COMMIT DROP`
	if _, err := tx.ExecContext(ctx, temp); err != nil {
		return err
	}
	err = copyRows(ctx, tx, "synth_referrals", []string{"id", "person_id", "from_tenant_id", "to_tenant_id", "reason", "priority",
		"shared_categories", "status", "reason_code", "outcome", "version", "created_at", "updated_at", "closed_at"}, len(batch), func(i int) []any {
		r := batch[i]
		return []any{r.ID, r.PersonID, r.From, r.To, r.Reason, r.Priority, textArray(r.Shared), r.Status, stringOrNil(r.ReasonCode),
			stringOrNil(r.Outcome), r.Version, r.CreatedAt, r.UpdatedAt, timeOrNil(r.ClosedAt)}
	})
	if err != nil {
		return err
	}
	const insert = `
INSERT INTO referrals (id, person_id, from_tenant_id, to_tenant_id, reason, priority, shared_categories, status,
	reason_code, outcome, version, created_at, updated_at, closed_at)
SELECT id, person_id, from_tenant_id, to_tenant_id, reason, priority, shared_categories, status,
	reason_code, outcome, version, created_at, updated_at, closed_at
FROM synth_referrals
ON CONFLICT DO NOTHING
RETURNING id`
	var ids []string
	if err := tx.SelectContext(ctx, &ids, insert); err != nil {
		return err
	}
	added := make(map[string]bool, len(ids))
	for _, id := range ids {
		added[id] = true
	}
	type ev struct {
		ref string
		referralEvent
	}
	var events []ev
	var links []linkRow
	for _, r := range batch {
		if !added[r.ID] {
			continue
		}
		for _, e := range r.events {
			events = append(events, ev{r.ID, e})
		}
		if r.link != nil {
			links = append(links, *r.link)
		}
	}
	err = copyRows(ctx, tx, "referral_events", []string{"referral_id", "version", "at", "tenant_id", "from_status", "to_status",
		"reason_code", "outcome"}, len(events), func(i int) []any {
		e := events[i]
		return []any{e.ref, e.Version, e.At, e.TenantID, stringOrNil(e.From), e.To, stringOrNil(e.ReasonCode), stringOrNil(e.Outcome)}
	})
	if err != nil {
		return err
	}
	err = copyRows(ctx, tx, "person_links", []string{"id", "person_id", "tenant_id", "kind", "source", "scope", "valid_from", "created_at"},
		len(links), func(i int) []any {
			l := links[i]
			return []any{l.ID, l.PersonID, l.TenantID, l.Kind, l.Source, textArray(l.Scope), l.ValidFrom, l.ValidFrom}
		})
	if err != nil {
		return err
	}
	return tx.Commit()
}
