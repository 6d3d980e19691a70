// Package migrations embeds the numbered SQL files that build the schema.
// Applied files are never edited: a change is a new file.
package migrations

import "embed"

// FS holds every NNNN_name.sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
