package consents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// --- SQL of consent documents ---

type documentRow struct {
	ID            string     `db:"id"`
	ConsentID     string     `db:"consent_id"`
	Key           string     `db:"object_key"`
	State         string     `db:"state"`
	ContentType   *string    `db:"content_type"`
	InnerType     *string    `db:"inner_type"`
	Size          *int64     `db:"size_bytes"`
	SHA256        *string    `db:"sha256"`
	VersionID     *string    `db:"version_id"`
	RetainUntil   *time.Time `db:"retain_until"`
	SignerSubject *string    `db:"signer_subject"`
	SignerIssuer  *string    `db:"signer_issuer"`
	SignerSerial  *string    `db:"signer_serial"`
	SignedAt      *time.Time `db:"signed_at"`
	UploadedBy    string     `db:"uploaded_by"`
	CreatedAt     time.Time  `db:"created_at"`
	StoredAt      *time.Time `db:"stored_at"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (r documentRow) document() Document {
	d := Document{ID: r.ID, ConsentID: r.ConsentID, Key: r.Key, State: r.State, ContentType: deref(r.ContentType),
		InnerType: deref(r.InnerType), Size: deref(r.Size), SHA256: deref(r.SHA256), VersionID: deref(r.VersionID),
		RetainUntil: r.RetainUntil, UploadedBy: r.UploadedBy, CreatedAt: r.CreatedAt, StoredAt: r.StoredAt}
	if r.SignerSubject != nil {
		d.Signer = &Signer{Subject: *r.SignerSubject, Issuer: deref(r.SignerIssuer), Serial: deref(r.SignerSerial), SignedAt: r.SignedAt}
	}
	return d
}

const selectDocument = `
SELECT d.id, d.consent_id, d.object_key, d.state, d.content_type, d.inner_type, d.size_bytes, d.sha256, d.version_id,
	d.retain_until, d.signer_subject, d.signer_issuer, d.signer_serial, d.signed_at, t.slug AS uploaded_by,
	d.created_at, d.stored_at
FROM consent_documents d JOIN tenants t ON t.id = d.uploaded_by_tenant`

// insertPendingDocument records an upload about to start, in its own
// transaction: from now on the sweeper knows the object key.
func insertPendingDocument(ctx context.Context, db sqlx.ExecerContext, d Document, a tenants.Actor) error {
	const stmt = `
INSERT INTO consent_documents (id, consent_id, object_key, state, retain_until, uploaded_by_tenant, uploaded_by_user)
VALUES ($1, $2, $3, 'pending', $4, $5, nullif($6, '')::uuid)`
	if _, err := db.ExecContext(ctx, stmt, d.ID, d.ConsentID, d.Key, d.RetainUntil, a.TenantID, a.UserID); err != nil {
		return postgres.Translate(fmt.Errorf("insert pending document: %w", err))
	}
	return nil
}

func deletePendingDocument(ctx context.Context, db sqlx.ExecerContext, id string) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM consent_documents WHERE id = $1 AND state = 'pending'`, id); err != nil {
		return postgres.Translate(fmt.Errorf("delete pending document: %w", err))
	}
	return nil
}

// replaceCurrentDocument turns the consent's current document, if any, into
// a replaced one.
func replaceCurrentDocument(ctx context.Context, tx *sqlx.Tx, consentID string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE consent_documents SET state = 'replaced', replaced_at = now() WHERE consent_id = $1 AND state = 'stored'`, consentID)
	if err != nil {
		return false, postgres.Translate(fmt.Errorf("replace document: %w", err))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// storeDocument makes a pending row the consent's document. A row that is
// no longer pending was taken by the sweeper as a dead upload (the upload
// outlived the grace period): the upload fails.
func storeDocument(ctx context.Context, tx *sqlx.Tx, d Document) error {
	const stmt = `
UPDATE consent_documents SET state = 'stored', stored_at = now(), content_type = $2, inner_type = nullif($3, ''),
	size_bytes = $4, sha256 = $5, version_id = $6, signer_subject = $7, signer_issuer = $8, signer_serial = $9, signed_at = $10
WHERE id = $1 AND state = 'pending'`
	var subject, issuer, serial *string
	var signedAt *time.Time
	if s := d.Signer; s != nil {
		subject, issuer, serial, signedAt = &s.Subject, &s.Issuer, &s.Serial, s.SignedAt
	}
	res, err := tx.ExecContext(ctx, stmt, d.ID, d.ContentType, d.InnerType, d.Size, d.SHA256, d.VersionID, subject, issuer, serial, signedAt)
	if err != nil {
		return postgres.Translate(fmt.Errorf("store document: %w", err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Unavailable, "the upload took too long and was abandoned: send the document again")
	}
	return nil
}

func currentDocument(ctx context.Context, q sqlx.QueryerContext, consentID string) (Document, error) {
	var r documentRow
	err := sqlx.GetContext(ctx, q, &r, selectDocument+` WHERE d.consent_id = $1 AND d.state = 'stored'`, consentID)
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, errNoDocument
	}
	if err != nil {
		return Document{}, postgres.Translate(fmt.Errorf("document: %w", err))
	}
	return r.document(), nil
}

// tenantNames maps the slugs among names to the tenants' names.
func tenantNames(ctx context.Context, q sqlx.QueryerContext, slugs []string) (map[string]string, error) {
	rows, err := q.QueryxContext(ctx, `SELECT slug, name FROM tenants WHERE slug = ANY($1)`, pq.Array(slugs))
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("tenant names: %w", err))
	}
	defer rows.Close()
	out := make(map[string]string, len(slugs))
	for rows.Next() {
		var slug, name string
		if err := rows.Scan(&slug, &name); err != nil {
			return nil, postgres.Translate(err)
		}
		out[slug] = name
	}
	return out, postgres.Translate(rows.Err())
}
