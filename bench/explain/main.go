// Command explain finds, in a PostgreSQL server log written with
// log_statement = 'all', the last statement the application ran that
// contains given fragments, with the parameters it was run with, and prints
// it with its EXPLAIN (ANALYZE, BUFFERS). So the plan shown is the plan of
// the query exactly as the service builds it (access condition included),
// without copying its SQL here.
//
//	go run ./bench/explain -log postgres.log -db "$ATTIVI_DATABASE_URL" \
//	    -contains 'FROM persons p' -contains 'ORDER BY lower(p.family_name)' -exclude 'search_text LIKE'
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	_ "github.com/lib/pq"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ", ") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "explain:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	logPath := fs.String("log", "", "PostgreSQL log file (log_statement = 'all')")
	dbURL := fs.String("db", os.Getenv("ATTIVI_DATABASE_URL"), "database URL")
	title := fs.String("title", "", "heading to print")
	var contains, exclude list
	fs.Var(&contains, "contains", "the statement contains this text (repeatable)")
	fs.Var(&exclude, "exclude", "the statement does not contain this text (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logPath == "" || *dbURL == "" || len(contains) == 0 {
		fs.Usage()
		return errors.New("need -log, -db and at least one -contains")
	}
	stmt, params, err := lastStatement(*logPath, contains, exclude)
	if err != nil {
		return err
	}
	db, err := sql.Open("postgres", *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if *title != "" {
		fmt.Fprintf(stdout, "%s\n", *title)
	}
	fmt.Fprintf(stdout, "-- statement, as logged:\n%s\n-- parameters:", strings.TrimSpace(stmt))
	for i, p := range params {
		if p == nil {
			fmt.Fprintf(stdout, " $%d=NULL", i+1)
		} else {
			fmt.Fprintf(stdout, " $%d=%s", i+1, *p)
		}
	}
	fmt.Fprintln(stdout)
	args2 := make([]any, len(params))
	for i, p := range params {
		if p != nil {
			args2[i] = *p
		}
	}
	// Twice: the first run warms the cache; the second is shown.
	for run := range 2 {
		rows, err := db.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+stmt, args2...)
		if err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return err
			}
			if run == 1 {
				fmt.Fprintln(stdout, line)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

var (
	entryStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	execute    = regexp.MustCompile(`\] LOG:  (?:execute [^:]*|statement): `)
	paramsRe   = regexp.MustCompile(`\] DETAIL:  parameters: `)
	param      = regexp.MustCompile(`\$(\d+) = (NULL|'(?:[^']|'')*')`)
)

// lastStatement returns the last logged statement that contains every
// fragment of contains and none of exclude, with its parameters ($1 first;
// nil for NULL).
func lastStatement(path string, contains, exclude []string) (string, []*string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	// Split the log into entries: a line with a timestamp starts one.
	var entries []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if entryStart.MatchString(line) && cur.Len() > 0 {
			entries = append(entries, cur.String())
			cur.Reset()
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if cur.Len() > 0 {
		entries = append(entries, cur.String())
	}
	if err := sc.Err(); err != nil {
		return "", nil, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		loc := execute.FindStringIndex(entries[i])
		if loc == nil {
			continue
		}
		stmt := entries[i][loc[1]:]
		if !matches(stmt, contains, exclude) {
			continue
		}
		var params []*string
		if i+1 < len(entries) {
			if ploc := paramsRe.FindStringIndex(entries[i+1]); ploc != nil {
				params, err = parseParams(entries[i+1][ploc[1]:])
				if err != nil {
					return "", nil, err
				}
			}
		}
		return stmt, params, nil
	}
	return "", nil, fmt.Errorf("no statement in %s contains %q (and none of %q): was log_statement = 'all'?", path, contains, exclude)
}

func matches(s string, contains, exclude []string) bool {
	for _, c := range contains {
		if !strings.Contains(s, c) {
			return false
		}
	}
	for _, e := range exclude {
		if strings.Contains(s, e) {
			return false
		}
	}
	return true
}

func parseParams(s string) ([]*string, error) {
	var out []*string
	for _, m := range param.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[1])
		if n != len(out)+1 {
			return nil, fmt.Errorf("parameters out of order in %q", s)
		}
		if m[2] == "NULL" {
			out = append(out, nil)
			continue
		}
		v := strings.ReplaceAll(m[2][1:len(m[2])-1], "''", "'")
		out = append(out, &v)
	}
	return out, nil
}
