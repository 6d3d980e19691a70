package policies

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/storage/postgres"
)

// lockPolicy serialises the writers of the matrix for the rest of tx.
func lockPolicy(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT version FROM policy_state FOR UPDATE`)
	return postgres.Translate(err)
}

// writeRules replaces the p rows with rules and records the change; it
// returns the new version.
func writeRules(ctx context.Context, tx *sqlx.Tx, changedBy string, rules []Rule, summary string) (int64, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM casbin_rule WHERE ptype = 'p'`); err != nil {
		return 0, postgres.Translate(err)
	}
	rows := make([][]string, len(rules))
	for i, r := range rules {
		rows[i] = r.row()
	}
	if err := insertRules(ctx, tx, "p", rows); err != nil {
		return 0, err
	}
	doc, err := json.Marshal(rules)
	if err != nil {
		return 0, err
	}
	var by *string
	if changedBy != "" {
		by = &changedBy
	}
	const q = `INSERT INTO policy_versions (changed_by, summary, rules) VALUES ($1, $2, $3::jsonb) RETURNING version`
	var v int64
	if err := tx.GetContext(ctx, &v, q, by, summary, string(doc)); err != nil {
		return 0, postgres.Translate(err)
	}
	return v, nil
}

// rulesVersion is the version of the matrix: the last recorded change, or 0.
func rulesVersion(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var v int64
	err := sqlx.GetContext(ctx, q, &v, `SELECT coalesce(max(version), 0) FROM policy_versions`)
	return v, postgres.Translate(err)
}

// stateVersion is the change counter of everything the enforcer loads.
func stateVersion(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var v int64
	err := sqlx.GetContext(ctx, q, &v, `SELECT version FROM policy_state`)
	return v, postgres.Translate(err)
}

// Change is one recorded change of the matrix.
type Change struct {
	Version        int64     `db:"version"`
	ChangedBy      *string   `db:"changed_by"`       // user id; nil for the seeded default
	ChangedByEmail *string   `db:"changed_by_email"` // nil for the seeded default
	ChangedAt      time.Time `db:"changed_at"`
	Summary        string    `db:"summary"`
	Rules          int       `db:"rules"` // how many rules the policy had after the change
}

// History returns up to limit changes, newest first, older than version
// before (all when before is 0).
func (e *Engine) History(ctx context.Context, before int64, limit int) ([]Change, error) {
	const q = `
SELECT v.version, v.changed_by::text AS changed_by, u.email AS changed_by_email, v.changed_at, v.summary,
       jsonb_array_length(v.rules) AS rules
FROM policy_versions v
LEFT JOIN users u ON u.id = v.changed_by
WHERE $1 = 0 OR v.version < $1
ORDER BY v.version DESC
LIMIT $2`
	var cs []Change
	if err := e.db.SelectContext(ctx, &cs, q, before, limit); err != nil {
		return nil, postgres.Translate(err)
	}
	return cs, nil
}
