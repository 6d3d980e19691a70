package policies

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/storage/postgres"
)

// Adapter is the Casbin adapter on sqlx. It loads the `p` rows from
// casbin_rule and the `g` rows (role assignments) from membership_roles,
// which the tenants package owns: g, <user id>, <role>, <tenant slug>, for
// memberships and users that are not disabled. It writes only `p` rows.
//
// Its writes bypass the version history: Engine.Replace is the way the
// application changes the policy. They exist for Casbin's interface.
type Adapter struct {
	db      *sqlx.DB
	timeout time.Duration
}

var (
	_ persist.Adapter      = (*Adapter)(nil)
	_ persist.BatchAdapter = (*Adapter)(nil)
)

// NewAdapter returns an adapter on db.
func NewAdapter(db *sqlx.DB) *Adapter { return &Adapter{db: db, timeout: 30 * time.Second} }

// Casbin's adapter interface carries no context: each call gets a deadline.
func (a *Adapter) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.timeout)
}

// LoadPolicy loads every rule and role assignment into m.
func (a *Adapter) LoadPolicy(m model.Model) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return loadPolicy(ctx, a.db, m)
}

type ruleRow struct {
	PType string `db:"ptype"`
	V0    string `db:"v0"`
	V1    string `db:"v1"`
	V2    string `db:"v2"`
	V3    string `db:"v3"`
	V4    string `db:"v4"`
	V5    string `db:"v5"`
}

// loadPolicy reads through q, so that the Engine can read the rules, the
// role assignments and the version in one snapshot.
func loadPolicy(ctx context.Context, q sqlx.QueryerContext, m model.Model) error {
	const qp = `SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id`
	var ps []ruleRow
	if err := sqlx.SelectContext(ctx, q, &ps, qp); err != nil {
		return postgres.Translate(fmt.Errorf("load policy rules: %w", err))
	}
	for _, r := range ps {
		line := trimRow([]string{r.PType, r.V0, r.V1, r.V2, r.V3, r.V4, r.V5})
		if err := persist.LoadPolicyArray(line, m); err != nil {
			return fmt.Errorf("load policy rule %v: %w", line, err)
		}
	}
	const qg = `
SELECT mr.user_id::text AS v0, mr.role AS v1, t.slug AS v2
FROM membership_roles mr
JOIN memberships ms ON ms.user_id = mr.user_id AND ms.tenant_id = mr.tenant_id
JOIN users u ON u.id = mr.user_id
JOIN tenants t ON t.id = mr.tenant_id
WHERE ms.disabled_at IS NULL AND u.disabled_at IS NULL`
	var gs []ruleRow
	if err := sqlx.SelectContext(ctx, q, &gs, qg); err != nil {
		return postgres.Translate(fmt.Errorf("load role assignments: %w", err))
	}
	for _, r := range gs {
		if err := persist.LoadPolicyArray([]string{"g", r.V0, r.V1, r.V2}, m); err != nil {
			return fmt.Errorf("load role assignment: %w", err)
		}
	}
	return nil
}

// trimRow drops trailing empty fields, as Casbin's own adapters do.
func trimRow(line []string) []string {
	for len(line) > 1 && line[len(line)-1] == "" {
		line = line[:len(line)-1]
	}
	return line
}

var errRolesNotHere = errors.New("role assignments (g rows) are membership_roles rows, changed through tenants")

// columns spreads a rule over v0..v5.
func columns(rule []string) ([6]string, error) {
	var v [6]string
	if len(rule) > len(v) {
		return v, fmt.Errorf("policy rule %q has %d fields, at most %d fit", rule, len(rule), len(v))
	}
	copy(v[:], rule)
	return v, nil
}

// insertRules writes p rules in one statement.
func insertRules(ctx context.Context, tx *sqlx.Tx, ptype string, rules [][]string) error {
	if len(rules) == 0 {
		return nil
	}
	var cols [6][]string
	for _, r := range rules {
		v, err := columns(r)
		if err != nil {
			return err
		}
		for i := range v {
			cols[i] = append(cols[i], v[i])
		}
	}
	const q = `
INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`
	_, err := tx.ExecContext(ctx, q, ptype, pq.Array(cols[0]), pq.Array(cols[1]), pq.Array(cols[2]),
		pq.Array(cols[3]), pq.Array(cols[4]), pq.Array(cols[5]))
	return postgres.Translate(err)
}

func deleteRule(ctx context.Context, tx *sqlx.Tx, ptype string, rule []string) error {
	v, err := columns(rule)
	if err != nil {
		return err
	}
	const q = `DELETE FROM casbin_rule WHERE ptype = $1 AND v0 = $2 AND v1 = $3 AND v2 = $4 AND v3 = $5 AND v4 = $6 AND v5 = $7`
	_, err = tx.ExecContext(ctx, q, ptype, v[0], v[1], v[2], v[3], v[4], v[5])
	return postgres.Translate(err)
}

func (a *Adapter) inTx(fn func(ctx context.Context, tx *sqlx.Tx) error) error {
	ctx, cancel := a.ctx()
	defer cancel()
	return postgres.InTx(ctx, a.db, func(tx *sqlx.Tx) error { return fn(ctx, tx) })
}

// SavePolicy replaces every p row with those of m, in one transaction.
func (a *Adapter) SavePolicy(m model.Model) error {
	return a.inTx(func(ctx context.Context, tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM casbin_rule`); err != nil {
			return postgres.Translate(err)
		}
		for ptype, ast := range m["p"] {
			if err := insertRules(ctx, tx, ptype, ast.Policy); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddPolicy adds a p rule.
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPolicies(sec, ptype, [][]string{rule})
}

// AddPolicies adds p rules in one transaction.
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	if sec != "p" {
		return errRolesNotHere
	}
	return a.inTx(func(ctx context.Context, tx *sqlx.Tx) error { return insertRules(ctx, tx, ptype, rules) })
}

// RemovePolicy removes a p rule.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePolicies(sec, ptype, [][]string{rule})
}

// RemovePolicies removes p rules in one transaction.
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	if sec != "p" {
		return errRolesNotHere
	}
	return a.inTx(func(ctx context.Context, tx *sqlx.Tx) error {
		for _, r := range rules {
			if err := deleteRule(ctx, tx, ptype, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveFilteredPolicy removes the p rules whose fields from fieldIndex on
// equal fieldValues; an empty value matches anything, as in Casbin.
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	if sec != "p" {
		return errRolesNotHere
	}
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > 6 {
		return fmt.Errorf("filter on fields %d..%d: there are 6", fieldIndex, fieldIndex+len(fieldValues)-1)
	}
	// Only column names from this fixed list and $n placeholders are
	// concatenated: the values travel as arguments.
	names := [6]string{"v0", "v1", "v2", "v3", "v4", "v5"}
	q := `DELETE FROM casbin_rule WHERE ptype = $1`
	args := []any{ptype}
	for i, v := range fieldValues {
		if v == "" {
			continue
		}
		args = append(args, v)
		q += fmt.Sprintf(" AND %s = $%d", names[fieldIndex+i], len(args))
	}
	return a.inTx(func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return postgres.Translate(err)
	})
}
