package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"attivi/services/consents"
)

// Config is every setting of the program, read once at start from ATTIVI_*
// environment variables.
type Config struct {
	Env             string // development | production
	Listen          string
	LogLevel        slog.Level
	DatabaseURL     string
	DBMaxConns      int
	S3Endpoint      string
	S3AccessKey     string
	S3SecretKey     string
	S3Bucket        string
	S3Secure        bool
	BodyLimit       int
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	SessionTTL      time.Duration
	SessionIdle     time.Duration
	// ReferralOverdueDays: a referral still requested after this many days
	// is flagged overdue in the inboxes.
	ReferralOverdueDays int
	// Consent documents: the largest accepted, the years of retention after
	// the consent's last day, the age at which an unfinished upload is swept.
	DocumentMaxBytes       int64
	DocumentRetentionYears int
	DocumentSweepGrace     time.Duration
	// TrustedProxies are the addresses (IPs or CIDRs) of the load balancers
	// in front of the instances: from them, the client's address is taken
	// from X-Forwarded-For (for login throttling). Empty: the connection's.
	TrustedProxies []string
}

// envVar documents one variable: its name, default and meaning. The list
// feeds both loading and --help, so the two cannot drift apart.
type envVar struct {
	Name, Default, Help string
	Secret              bool
}

var envVars = []envVar{
	{Name: "ATTIVI_ENV", Default: "development", Help: "development or production (JSON logs, no demo accounts)"},
	{Name: "ATTIVI_LISTEN", Default: ":8080", Help: "address the HTTP server listens on"},
	{Name: "ATTIVI_LOG_LEVEL", Default: "info", Help: "debug, info, warn or error"},
	{Name: "ATTIVI_DATABASE_URL", Help: "PostgreSQL URL, e.g. postgres://user:pass@host:5432/attivi?sslmode=disable", Secret: true},
	{Name: "ATTIVI_DB_MAX_CONNS", Default: "16", Help: "most PostgreSQL connections this instance opens"},
	{Name: "ATTIVI_S3_ENDPOINT", Help: "MinIO or S3 endpoint as host:port"},
	{Name: "ATTIVI_S3_ACCESS_KEY", Help: "access key of the document store"},
	{Name: "ATTIVI_S3_SECRET_KEY", Help: "secret key of the document store", Secret: true},
	{Name: "ATTIVI_S3_BUCKET", Default: "attivi", Help: "bucket of the documents (created with versioning if missing)"},
	{Name: "ATTIVI_S3_SECURE", Default: "false", Help: "true to reach the document store over TLS"},
	{Name: "ATTIVI_BODY_LIMIT", Default: "1048576", Help: "largest request body in bytes (uploads have their own limit)"},
	{Name: "ATTIVI_REQUEST_TIMEOUT", Default: "30s", Help: "deadline of one request"},
	{Name: "ATTIVI_SHUTDOWN_TIMEOUT", Default: "30s", Help: "how long in-flight requests may take to finish at shutdown"},
	{Name: "ATTIVI_SESSION_TTL", Default: "12h", Help: "lifetime of a login session"},
	{Name: "ATTIVI_SESSION_IDLE", Default: "30m", Help: "a session unused this long ends"},
	{Name: "ATTIVI_REFERRAL_OVERDUE_DAYS", Default: "7", Help: "days after which a referral still waiting is flagged overdue"},
	{Name: "ATTIVI_DOCUMENT_MAX_BYTES", Default: "52428800", Help: "largest signed consent document accepted, in bytes (413 beyond)"},
	{Name: "ATTIVI_DOCUMENT_RETENTION_YEARS", Default: "10", Help: "years after a consent's last valid day its documents stay under object lock"},
	{Name: "ATTIVI_DOCUMENT_SWEEP_GRACE", Default: "1h", Help: "age at which an unfinished document upload is swept (more than 30m)"},
	{Name: "ATTIVI_TRUSTED_PROXIES", Help: "comma-separated IPs or CIDRs of the load balancers whose X-Forwarded-For (which they must set, not append to) names the client"},
}

// need says which groups of settings a command requires.
type need struct{ db, s3 bool }

// loadConfig reads and validates the environment. Every problem is reported
// at once, each naming its variable.
func loadConfig(getenv func(string) string, n need) (Config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, e := range envVars {
			if e.Name == name {
				return e.Default
			}
		}
		return ""
	}
	var problems []string
	bad := func(name, format string, args ...any) {
		problems = append(problems, name+": "+fmt.Sprintf(format, args...))
	}
	c := Config{
		Env:         get("ATTIVI_ENV"),
		Listen:      get("ATTIVI_LISTEN"),
		DatabaseURL: get("ATTIVI_DATABASE_URL"),
		S3Endpoint:  get("ATTIVI_S3_ENDPOINT"),
		S3AccessKey: get("ATTIVI_S3_ACCESS_KEY"),
		S3SecretKey: get("ATTIVI_S3_SECRET_KEY"),
		S3Bucket:    get("ATTIVI_S3_BUCKET"),
	}
	if c.Env != "development" && c.Env != "production" {
		bad("ATTIVI_ENV", "must be development or production, not %q", c.Env)
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("ATTIVI_LISTEN", "must be host:port or :port, not %q", c.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("ATTIVI_LISTEN", "port must be a number from 0 to 65535, not %q", port)
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("ATTIVI_LOG_LEVEL"))); err != nil {
		bad("ATTIVI_LOG_LEVEL", "must be debug, info, warn or error, not %q", get("ATTIVI_LOG_LEVEL"))
	}
	positive := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n <= 0 {
			bad(name, "must be a positive whole number, not %q", get(name))
		}
		return n
	}
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			bad(name, "must be a positive duration such as 30s or 2m, not %q", get(name))
		}
		return d
	}
	c.DBMaxConns = positive("ATTIVI_DB_MAX_CONNS")
	c.BodyLimit = positive("ATTIVI_BODY_LIMIT")
	c.RequestTimeout = duration("ATTIVI_REQUEST_TIMEOUT")
	c.ShutdownTimeout = duration("ATTIVI_SHUTDOWN_TIMEOUT")
	c.ReferralOverdueDays = positive("ATTIVI_REFERRAL_OVERDUE_DAYS")
	c.DocumentMaxBytes = int64(positive("ATTIVI_DOCUMENT_MAX_BYTES"))
	c.DocumentRetentionYears = positive("ATTIVI_DOCUMENT_RETENTION_YEARS")
	c.DocumentSweepGrace = duration("ATTIVI_DOCUMENT_SWEEP_GRACE")
	if c.DocumentSweepGrace > 0 && c.DocumentSweepGrace <= consents.UploadTimeout {
		bad("ATTIVI_DOCUMENT_SWEEP_GRACE", "must be longer than an upload may last (%s), not %s", consents.UploadTimeout, c.DocumentSweepGrace)
	}
	for _, p := range strings.Split(get("ATTIVI_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			bad("ATTIVI_TRUSTED_PROXIES", "%q is neither an IP address nor a CIDR such as 10.0.0.0/8", p)
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	c.SessionTTL = duration("ATTIVI_SESSION_TTL")
	c.SessionIdle = duration("ATTIVI_SESSION_IDLE")
	if c.SessionIdle > c.SessionTTL && c.SessionTTL > 0 {
		bad("ATTIVI_SESSION_IDLE", "must not be longer than ATTIVI_SESSION_TTL (%s)", c.SessionTTL)
	}
	secure, err := strconv.ParseBool(get("ATTIVI_S3_SECURE"))
	if err != nil {
		bad("ATTIVI_S3_SECURE", "must be true or false, not %q", get("ATTIVI_S3_SECURE"))
	}
	c.S3Secure = secure

	if n.db {
		if c.DatabaseURL == "" {
			bad("ATTIVI_DATABASE_URL", "is required (a PostgreSQL URL such as postgres://user:pass@localhost:5432/attivi?sslmode=disable)")
		} else if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			bad("ATTIVI_DATABASE_URL", "must be a postgres:// URL with a host")
		}
	}
	if n.s3 {
		if c.S3Endpoint == "" {
			bad("ATTIVI_S3_ENDPOINT", "is required (host:port of MinIO or S3)")
		} else if strings.Contains(c.S3Endpoint, "://") {
			bad("ATTIVI_S3_ENDPOINT", "must be host:port without a scheme (use ATTIVI_S3_SECURE for TLS), not %q", c.S3Endpoint)
		} else if _, _, err := net.SplitHostPort(c.S3Endpoint); err != nil {
			bad("ATTIVI_S3_ENDPOINT", "must be host:port, not %q", c.S3Endpoint)
		}
		if c.S3AccessKey == "" {
			bad("ATTIVI_S3_ACCESS_KEY", "is required")
		}
		if c.S3SecretKey == "" {
			bad("ATTIVI_S3_SECRET_KEY", "is required")
		}
		if len(c.S3Bucket) < 3 || len(c.S3Bucket) > 63 || strings.ToLower(c.S3Bucket) != c.S3Bucket || strings.ContainsAny(c.S3Bucket, "_ /") {
			bad("ATTIVI_S3_BUCKET", "must be 3 to 63 lower-case letters, digits, dots or hyphens, not %q", c.S3Bucket)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return c, fmt.Errorf("configuration is not valid:\n  %s", strings.Join(problems, "\n  "))
	}
	return c, nil
}

// LogValue prints the configuration with its secrets masked, so it can be
// logged at start.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("env", c.Env),
		slog.String("listen", c.Listen),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("database_url", maskURL(c.DatabaseURL)),
		slog.Int("db_max_conns", c.DBMaxConns),
		slog.String("s3_endpoint", c.S3Endpoint),
		slog.String("s3_access_key", c.S3AccessKey),
		slog.String("s3_secret_key", mask(c.S3SecretKey)),
		slog.String("s3_bucket", c.S3Bucket),
		slog.Bool("s3_secure", c.S3Secure),
		slog.Int("body_limit", c.BodyLimit),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("session_ttl", c.SessionTTL),
		slog.Duration("session_idle", c.SessionIdle),
		slog.Int("referral_overdue_days", c.ReferralOverdueDays),
		slog.Int64("document_max_bytes", c.DocumentMaxBytes),
		slog.Int("document_retention_years", c.DocumentRetentionYears),
		slog.Duration("document_sweep_grace", c.DocumentSweepGrace),
	)
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "*****"
}

// maskURL hides the password of a URL, also one given as a query parameter.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return mask(s)
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
