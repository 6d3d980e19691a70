// Package synth fills a database with a synthetic network of persons, links
// and consents for benchmarks (attivi seed --synthetic N).
package synth

import (
	"context"
	"errors"
	"io"

	"github.com/jmoiron/sqlx"
)

// Generate adds n synthetic persons with links and consents, reproducibly
// from seed, and reports progress on out.
func Generate(ctx context.Context, db *sqlx.DB, n int, seed uint64, out io.Writer) error {
	return errors.New("synthetic generation is not written yet")
}
