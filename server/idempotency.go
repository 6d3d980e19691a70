package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// IdempotencyTTL is how long a key is remembered: a client retrying a
// request it is unsure about does so within minutes; a day covers a night
// of a dead network link. Older keys are deleted by ForgetIdempotencyKeys.
const IdempotencyTTL = 24 * time.Hour

// maxKey is the longest Idempotency-Key accepted (the column allows 255).
const maxKey = 255

// replayedHeaders are the response headers a replay gives back.
var replayedHeaders = []string{fiber.HeaderLocation, fiber.HeaderETag, fiber.HeaderContentType}

// selfIdempotent are the routes whose handler implements the key in its own
// transaction (exactly once, also across a crash): the middleware leaves
// them alone.
var selfIdempotent = map[string]bool{"/api/v1/referrals": true}

// idempotency gives every authenticated POST an optional Idempotency-Key
// (DESIGN section 8). The first request with a key claims it in the
// database (per acting tenant) and runs; a successful response is stored
// with it, and a repeat with the same method, path and body gets that
// response again (Idempotent-Replayed: true) without running; the same key
// with another request is refused; a repeat while the first still runs is
// a conflict. A failed first request releases the key, so it can be retried.
// If the process dies between the work and storing its response, the key
// stays claimed and repeats are refused until it expires: the outcome is
// unknown, and running the request again could do the work twice.
func idempotency(db *sqlx.DB) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get("Idempotency-Key")
		if c.Method() != fiber.MethodPost || key == "" || selfIdempotent[c.Path()] {
			return c.Next()
		}
		a, ok := tenants.ActorFrom(c.UserContext())
		if !ok {
			return c.Next() // no acting tenant: the handler answers why
		}
		if err := checkIdempotencyKey(key); err != nil {
			return err
		}
		op := c.Method() + " " + c.Path()
		h := sha256.Sum256(c.Body())
		ctx := c.UserContext()
		claimed, err := claimIdempotencyKey(ctx, db, a, key, op, h[:])
		if err != nil {
			return err
		}
		if !claimed {
			return replay(c, db, a, key, op, h[:])
		}
		defer func() { // a panic below: release the key, and let recoverPanics answer
			if r := recover(); r != nil {
				_ = releaseIdempotencyKey(context.WithoutCancel(ctx), db, a.TenantID, key)
				panic(r)
			}
		}()
		err = c.Next()
		status := c.Response().StatusCode()
		if err != nil || status < 200 || status > 299 {
			// Released even when the client has gone: a context that is not
			// cancelled, so that the release happens.
			if rerr := releaseIdempotencyKey(context.WithoutCancel(ctx), db, a.TenantID, key); rerr != nil && err == nil {
				err = rerr
			}
			return err
		}
		headers := map[string]string{}
		for _, name := range replayedHeaders {
			if v := c.Response().Header.Peek(name); len(v) > 0 {
				headers[name] = string(v)
			}
		}
		return storeIdempotentResponse(context.WithoutCancel(ctx), db, a.TenantID, key, status, c.Response().Body(), headers)
	}
}

func checkIdempotencyKey(key string) error {
	if len(key) > maxKey {
		return &apperr.Error{Code: apperr.Malformed, Message: "the Idempotency-Key is too long",
			Fields: map[string]string{"Idempotency-Key": fmt.Sprintf("must be at most %d characters", maxKey)}}
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return &apperr.Error{Code: apperr.Malformed, Message: "the Idempotency-Key is not valid",
				Fields: map[string]string{"Idempotency-Key": "must be printable ASCII without spaces, such as a UUID"}}
		}
	}
	return nil
}

func claimIdempotencyKey(ctx context.Context, db *sqlx.DB, a tenants.Actor, key, op string, hash []byte) (bool, error) {
	const q = `
INSERT INTO idempotency_keys (tenant_id, key, operation, request_hash, user_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, key) DO NOTHING`
	res, err := db.ExecContext(ctx, q, a.TenantID, key, op, hash, a.UserID)
	if err != nil {
		return false, postgres.Translate(fmt.Errorf("claim the idempotency key: %w", err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// replay answers a repeat of a claimed key.
func replay(c *fiber.Ctx, db *sqlx.DB, a tenants.Actor, key, op string, hash []byte) error {
	var r struct {
		Operation string `db:"operation"`
		Hash      []byte `db:"request_hash"`
		Status    int    `db:"response_status"`
		Body      []byte `db:"response_body"`
		Headers   []byte `db:"response_headers"`
	}
	err := db.GetContext(c.UserContext(), &r, `
SELECT operation, request_hash, response_status, response_body, response_headers
FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`, a.TenantID, key)
	if errors.Is(err, sql.ErrNoRows) { // released in the meantime: the first request failed
		return apperr.New(apperr.Conflict, "the first request with this Idempotency-Key has just failed: send the request again")
	}
	if err != nil {
		return postgres.Translate(fmt.Errorf("read the idempotency key: %w", err))
	}
	if r.Operation != op || string(r.Hash) != string(hash) {
		return &apperr.Error{Code: apperr.Invalid, Message: "this Idempotency-Key was already used for a different request: send a new key with a new request",
			Fields: map[string]string{"Idempotency-Key": "was used before with another request"}}
	}
	if r.Status == 0 {
		return apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still running, or its outcome is unknown: do not send it again with this key")
	}
	var headers map[string]string
	if err := json.Unmarshal(r.Headers, &headers); err != nil {
		return fmt.Errorf("decode the stored headers: %w", err)
	}
	for k, v := range headers {
		c.Set(k, v)
	}
	c.Set("Idempotent-Replayed", "true")
	return c.Status(r.Status).Send(r.Body)
}

func releaseIdempotencyKey(ctx context.Context, db *sqlx.DB, tenantID, key string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND response_status = 0`, tenantID, key)
	return postgres.Translate(err)
}

func storeIdempotentResponse(ctx context.Context, db *sqlx.DB, tenantID, key string, status int, body []byte, headers map[string]string) error {
	hj, err := json.Marshal(headers)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `
UPDATE idempotency_keys SET response_status = $3, response_body = $4, response_headers = $5
WHERE tenant_id = $1 AND key = $2`, tenantID, key, status, body, hj)
	return postgres.Translate(err)
}

// ForgetIdempotencyKeys deletes the keys older than IdempotencyTTL (with
// the responses they kept, which may hold personal data), and says how many.
func ForgetIdempotencyKeys(ctx context.Context, db *sqlx.DB, now time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, now.Add(-IdempotencyTTL))
	if err != nil {
		return 0, postgres.Translate(fmt.Errorf("forget idempotency keys: %w", err))
	}
	return res.RowsAffected()
}
