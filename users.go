package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"attivi/tenants"
)

// stringList is a flag that may be repeated or given as a comma list.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// stdin is where --password-stdin reads; tests replace it.
var stdin io.Reader = os.Stdin

const usersUsage = `Usage:
  attivi users add --tenant SLUG --email EMAIL --role ROLE [--role ROLE...] [--name NAME] [--password-stdin]
      Creates the user (or adds an existing user to the tenant) with the roles given.
      Without --password-stdin a random password is generated and printed once.
  attivi users disable --email EMAIL
      Disables the user everywhere: their sessions stop working at once.

Roles: tenant_admin, social_worker, health_worker, job_coach, placement_officer,
coordinator, network_admin, privacy_officer.
`

func users(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.stdout, usersUsage)
		if len(args) == 0 {
			return errors.New("users: say add or disable")
		}
		return flag.ErrHelp
	}
	db, err := openDB(ctx, env.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := requireSchema(ctx, db); err != nil {
		return err
	}
	id, err := tenants.NewIdentity(db, tenants.DefaultAuth, env.log, time.Now, nil)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("attivi users "+args[0], flag.ContinueOnError)
	fs.SetOutput(env.stdout)
	fs.Usage = func() { fmt.Fprint(env.stdout, usersUsage) }
	switch args[0] {
	case "add":
		var roles stringList
		tenant := fs.String("tenant", "", "slug of the tenant")
		email := fs.String("email", "", "email address of the user")
		name := fs.String("name", "", "display name")
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
		fs.Var(&roles, "role", "role in the tenant (repeatable or comma separated)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *tenant == "" || *email == "" || len(roles) == 0 {
			return errors.New("users add: --tenant, --email and --role are required")
		}
		password, generated := "", false
		if *fromStdin {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read password: %w", err)
			}
			password = strings.TrimRight(line, "\r\n")
		} else {
			b := make([]byte, 18)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			password, generated = base64.RawURLEncoding.EncodeToString(b), true
		}
		m, created, err := id.AddMember(ctx, *tenant, tenants.NewMember{Email: *email, DisplayName: *name, Password: password, Roles: roles}, nil)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(env.stdout, "users: created %s (%s) in %s with roles %s\n", m.Email, m.ID, *tenant, strings.Join(roles, ", "))
			if generated {
				fmt.Fprintf(env.stdout, "users: password (shown once): %s\n", password)
			}
		} else {
			fmt.Fprintf(env.stdout, "users: %s (%s) is now a member of %s with roles %s (password unchanged)\n", m.Email, m.ID, *tenant, strings.Join(roles, ", "))
		}
		return nil
	case "disable":
		email := fs.String("email", "", "email address of the user")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *email == "" {
			return errors.New("users disable: --email is required")
		}
		if err := id.DisableUser(ctx, *email); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "users: %s is disabled\n", *email)
		return nil
	}
	fmt.Fprint(env.stdout, usersUsage)
	return fmt.Errorf("users: unknown subcommand %q", args[0])
}
