package policies

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/storage/postgres"
	"attivi/tenants"
)

//go:embed model.conf
var modelConf string

// Limits.
const (
	MaxRules         = 1000
	maxSummary       = 500
	maxCachedAnswers = 100_000 // per policy version, see boundedMap
)

// NewEnforcer returns a plain (uncached) enforcer of the model with the rules
// of a. It is not safe while the policy changes: the Engine does not use it;
// tools and benchmarks do.
func NewEnforcer(a persist.Adapter) (*casbin.Enforcer, error) {
	m, err := model.NewModelFromString(modelConf)
	if err != nil {
		return nil, fmt.Errorf("policy model: %w", err)
	}
	e, err := casbin.NewEnforcer(m, a)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	e.AddFunction("listHas", listHas)
	return e, nil
}

// NewCachedEnforcer returns the enforcer the Engine uses, with the rules of
// a: a SyncedCachedEnforcer whose cache is bounded.
func NewCachedEnforcer(a persist.Adapter) (*casbin.SyncedCachedEnforcer, error) {
	m, err := model.NewModelFromString(modelConf)
	if err != nil {
		return nil, fmt.Errorf("policy model: %w", err)
	}
	e, err := casbin.NewSyncedCachedEnforcer(m, a)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	e.AddFunction("listHas", listHas)
	e.SetCache(decisionCache{newBoundedMap[bool](maxCachedAnswers)})
	return e, nil
}

// listHas(list, token) reports whether token is one of the comma-separated
// list: how the matcher asks "is this link / category among the facts".
func listHas(args ...interface{}) (interface{}, error) {
	if len(args) != 2 {
		return false, fmt.Errorf("listHas takes 2 arguments, got %d", len(args))
	}
	list, ok1 := args[0].(string)
	tok, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return false, errors.New("listHas takes strings")
	}
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		if item == tok {
			return true, nil
		}
		list = rest
	}
	return false, nil
}

// Engine answers access decisions from the policy loaded from PostgreSQL,
// and follows its changes. It is safe for concurrent use.
//
// Each load builds a new enforcer (with an empty cache) from one snapshot of
// the database and swaps it in whole. Reloading the live cached enforcer
// instead would leave a window where a decision computed on the old policy
// is cached after the cache was invalidated.
type Engine struct {
	db         *sqlx.DB
	stmts      *postgres.Statements // the facts query and the access log insert
	logs       *logWriter           // the access log, in group commits
	log        *slog.Logger
	cur        atomic.Pointer[state]
	reloadMu   sync.Mutex
	checkEvery time.Duration
}

// state is one loaded policy with what is derived from it.
type state struct {
	generation int64 // policy_state.version: any change the enforcer loads
	version    int64 // the matrix version (policy_versions), for If-Match
	rules      []Rule
	enf        *casbin.SyncedCachedEnforcer
	decisions  *boundedMap[Decision]
	filters    sync.Map // roles/kind/action -> ListFilter
}

// New loads the policy. Seed first, so that a new database has one.
func New(ctx context.Context, db *sqlx.DB, log *slog.Logger) (*Engine, error) {
	st := postgres.NewStatements(db)
	e := &Engine{db: db, stmts: st, logs: &logWriter{stmts: st}, log: log, checkEvery: 5 * time.Second}
	if err := e.Reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// snapshotAdapter loads through one read-only transaction.
type snapshotAdapter struct {
	ctx context.Context
	tx  *sqlx.Tx
}

var errReadOnly = errors.New("the engine's enforcer is read-only: change the policy with Engine.Replace")

func (s snapshotAdapter) LoadPolicy(m model.Model) error              { return loadPolicy(s.ctx, s.tx, m) }
func (s snapshotAdapter) SavePolicy(model.Model) error                { return errReadOnly }
func (s snapshotAdapter) AddPolicy(string, string, []string) error    { return errReadOnly }
func (s snapshotAdapter) RemovePolicy(string, string, []string) error { return errReadOnly }
func (s snapshotAdapter) RemoveFilteredPolicy(string, string, int, ...string) error {
	return errReadOnly
}

// Reload loads the policy and role assignments now.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	st, err := e.load(ctx)
	if err != nil {
		return err
	}
	if cur := e.cur.Load(); cur != nil && st.generation < cur.generation {
		return nil // never go back to an older snapshot
	}
	e.cur.Store(st)
	return nil
}

func (e *Engine) load(ctx context.Context) (*state, error) {
	tx, err := e.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("load policy: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	st := &state{decisions: newBoundedMap[Decision](maxCachedAnswers)}
	if st.generation, err = stateVersion(ctx, tx); err != nil {
		return nil, err
	}
	if st.version, err = rulesVersion(ctx, tx); err != nil {
		return nil, err
	}
	if st.enf, err = NewCachedEnforcer(snapshotAdapter{ctx, tx}); err != nil {
		return nil, err
	}
	ps, err := st.enf.GetPolicy()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		r, err := ruleFromRow(p)
		if err != nil {
			return nil, err
		}
		st.rules = append(st.rules, r)
	}
	return st, nil
}

// Version is the version of the matrix in force here (If-Match of PUT).
func (e *Engine) Version() int64 { return e.cur.Load().version }

// Policy returns the matrix in force here and its version.
func (e *Engine) Policy() (version int64, rules []Rule) {
	st := e.cur.Load()
	return st.version, slices.Clone(st.rules)
}

// Request is a question: may the actor do Action on Category? About a
// person, Person carries the facts; nil means the object is not one person
// (members, policies, the access log as a whole, aggregated indicators).
type Request struct {
	Actor    tenants.Actor
	Category string
	Action   string
	Person   *Facts
}

// Facts are what the database says about the acting tenant and the person
// (one SQL query, DESIGN section 6).
type Facts struct {
	Links   []string // kinds of the tenant's active links to the person
	Granted []string // categories the person's active consents grant the tenant for the purpose
}

// Decision is an answer with its reasons.
type Decision struct {
	Allow bool `json:"allow"`
	// Rule decided: the allow rule that matched, or the deny rule.
	Rule *Rule `json:"rule,omitempty"`
	// Missing names the condition that failed when no rule denied:
	// "tenant" (no valid acting tenant), "role" (no role in the tenant),
	// "permission" (no rule for the roles), "relationship" (no needed link),
	// "consent" (no consent grants the category).
	Missing string   `json:"missing,omitempty"`
	Reasons []string `json:"reasons"`
}

// encode builds the request attributes. Facts are cleaned to the known
// vocabulary and sorted: an unknown token can never match a rule, and the
// same facts in another order hit the same cache entry.
func (r Request) encode() (links, grants string) {
	if r.Person == nil {
		return NotAPerson, NotAPerson
	}
	clean := func(vs, known []string) string {
		out := make([]string, 0, len(vs))
		for _, v := range vs {
			if slices.Contains(known, v) && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	return clean(r.Person.Links, Links), clean(r.Person.Granted, PersonCategories)
}

// Allowed answers whether the actor may do action on category when the
// object is not one person: objects (policies, members, tenants, the access
// log) and aggregates (indicators). It is served from the cache.
func (e *Engine) Allowed(a tenants.Actor, category, action string) bool {
	if !a.TenantKind.Valid() {
		return false
	}
	st := e.cur.Load()
	ok, err := st.enf.Enforce(a.UserID, a.TenantSlug, kindPrefix+string(a.TenantKind), category, action, NotAPerson, NotAPerson)
	if err != nil {
		e.log.Error("policy decision failed", slog.String("error", err.Error()))
		return false
	}
	return ok
}

// Decide answers the request and says why. Answers are remembered until the
// policy or a role assignment changes.
func (e *Engine) Decide(r Request) Decision {
	if !r.Actor.TenantKind.Valid() || r.Actor.TenantSlug == "" {
		return Decision{Missing: "tenant", Reasons: []string{"the request has no valid acting tenant"}}
	}
	st := e.cur.Load()
	links, grants := r.encode()
	key := strings.Join([]string{r.Actor.UserID, r.Actor.TenantSlug, string(r.Actor.TenantKind), r.Category, r.Action, links, grants}, "\x00")
	if d, ok := st.decisions.get(key); ok {
		return d
	}
	d, err := st.decide(r, links, grants)
	if err != nil {
		e.log.Error("policy decision failed", slog.String("error", err.Error()))
		return Decision{Missing: "permission", Reasons: []string{"the decision could not be made"}}
	}
	st.decisions.put(key, d)
	return d
}

func (st *state) decide(r Request, links, grants string) (Decision, error) {
	a := r.Actor
	ok, explain, err := st.enf.EnforceEx(a.UserID, a.TenantSlug, kindPrefix+string(a.TenantKind), r.Category, r.Action, links, grants)
	if err != nil {
		return Decision{}, err
	}
	if len(explain) > 0 {
		rule, err := ruleFromRow(explain)
		if err != nil {
			return Decision{}, err
		}
		if ok {
			return Decision{Allow: true, Rule: &rule, Reasons: allowReasons(rule, r)}, nil
		}
		return Decision{Rule: &rule, Reasons: []string{denyReason(rule, r)}}, nil
	}
	if ok { // cannot happen with this model's effect
		return Decision{Allow: true}, nil
	}
	return st.whyNot(r, links), nil
}

func allowReasons(rule Rule, r Request) []string {
	reasons := []string{fmt.Sprintf("rule %q allows it", rule.String())}
	switch {
	case r.Person == nil:
		reasons = append(reasons, "not about one person")
	case rule.Relationship == Any:
		reasons = append(reasons, "the rule needs no link to the person")
	default:
		reasons = append(reasons, fmt.Sprintf("tenant %s has the link %s to the person", r.Actor.TenantSlug, rule.Relationship))
	}
	switch {
	case rule.Consent:
		reasons = append(reasons, fmt.Sprintf("the person's consent grants %s to tenant %s", r.Category, r.Actor.TenantSlug))
	case r.Person != nil:
		reasons = append(reasons, "no consent needed")
	}
	return reasons
}

func denyReason(rule Rule, r Request) string {
	if rule.TenantKind != "" {
		return fmt.Sprintf("network rule %q: tenants of kind %s may never %s %s", rule.String(), rule.TenantKind, actionWords(rule.Action), categoryWords(rule.Category))
	}
	return fmt.Sprintf("rule %q: role %s may never %s %s", rule.String(), rule.Role, actionWords(rule.Action), categoryWords(rule.Category))
}

func actionWords(a string) string {
	if a == Any {
		return "receive or act on"
	}
	return a
}

func categoryWords(c string) string {
	if c == Any {
		return "any data"
	}
	return c + " data"
}

// whyNot finds the missing condition of a denial no deny rule caused, by
// narrowing the allow rules the way the matcher does.
func (st *state) whyNot(r Request, encodedLinks string) Decision {
	a := r.Actor
	roles := st.enf.GetRolesForUserInDomain(a.UserID, a.TenantSlug)
	if tenants.Role(a.UserID).Valid() { // the subject is a role itself
		roles = append(roles, a.UserID)
	}
	if len(roles) == 0 {
		return Decision{Missing: "role", Reasons: []string{fmt.Sprintf("the user holds no role in tenant %s", a.TenantSlug)}}
	}
	var cands []Rule
	for _, rule := range st.rules {
		if rule.Effect == Allow && subjectMatches(rule, a.TenantKind, roles) && rule.matchesCategory(r.Category) && rule.matchesAction(r.Action) {
			cands = append(cands, rule)
		}
	}
	if len(cands) == 0 {
		return Decision{Missing: "permission", Reasons: []string{fmt.Sprintf("no rule lets the roles %s %s %s data", strings.Join(roles, ", "), r.Action, r.Category)}}
	}
	var links []string
	if r.Person != nil && encodedLinks != "" {
		links = strings.Split(encodedLinks, ",")
	}
	var linked, needed []string
	for _, rule := range cands {
		relOK := rule.Relationship == Any ||
			(r.Person == nil && rule.Relationship == NotAPerson) ||
			(r.Person != nil && slices.Contains(links, rule.Relationship))
		if relOK {
			linked = append(linked, rule.Relationship)
			continue
		}
		need := rule.Relationship
		if need == NotAPerson {
			need = "none (not about one person: aggregates)"
		}
		if !slices.Contains(needed, need) {
			needed = append(needed, need)
		}
	}
	if len(linked) == 0 {
		var what string
		switch {
		case r.Person == nil:
			what = "the request is not about one person"
		case len(links) == 0:
			what = fmt.Sprintf("tenant %s has no link to the person", a.TenantSlug)
		default:
			what = fmt.Sprintf("tenant %s has the links %s", a.TenantSlug, strings.Join(links, ", "))
		}
		return Decision{Missing: "relationship", Reasons: []string{fmt.Sprintf(
			"the roles may %s %s data only with one of the relationships %s, and %s", r.Action, r.Category, strings.Join(needed, ", "), what)}}
	}
	return Decision{Missing: "consent", Reasons: []string{fmt.Sprintf(
		"tenant %s has the link %s, but no active consent of the person grants %s data to it", a.TenantSlug, linked[0], r.Category)}}
}

// ListFilter is the condition of list queries for the actor doing action
// (usually read): the Casbin part evaluated once per request. It is derived
// once per policy version and set of roles.
func (e *Engine) ListFilter(a tenants.Actor, action string) ListFilter {
	st := e.cur.Load()
	roles := st.enf.GetRolesForUserInDomain(a.UserID, a.TenantSlug)
	slices.Sort(roles)
	key := string(a.TenantKind) + "\x00" + action + "\x00" + strings.Join(roles, ",")
	if f, ok := st.filters.Load(key); ok {
		return f.(ListFilter)
	}
	var f ListFilter
	if a.TenantKind.Valid() {
		f = NewListFilter(st.rules, a.TenantKind, roles, action)
	}
	st.filters.Store(key, f)
	return f
}

// AllowedActions lists per category what holders of roles in a tenant of
// kind may do with the right link and consent (GET /api/v1/me).
func (e *Engine) AllowedActions(kind tenants.Kind, roles []tenants.Role) map[string][]string {
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	return AllowedActions(e.cur.Load().rules, kind, rs)
}

// Replace makes rules the whole matrix, as the actor's change described by
// summary, provided the matrix is still at version ifMatch. It returns the
// new version, which is in force on this instance when it returns (and on
// the others within a second).
func (e *Engine) Replace(ctx context.Context, actor tenants.Actor, ifMatch int64, rules []Rule, summary string) (int64, error) {
	if !e.Allowed(actor, CatPolicies, ActAdmin) {
		return 0, apperr.New(apperr.Forbidden, "only a network administrator may change the policies")
	}
	f := apperr.Fields{}
	summary = strings.TrimSpace(summary)
	switch {
	case summary == "":
		f.Add("summary", "say in a few words what changes and why")
	case len(summary) > maxSummary:
		f.Add("summary", "must be at most %d characters", maxSummary)
	}
	switch {
	case rules == nil:
		f.Add("rules", "is required: the complete list of rules")
	case len(rules) > MaxRules:
		f.Add("rules", "may hold at most %d rules", MaxRules)
	}
	validateInto(f, rules)
	if err := f.Err(); err != nil {
		return 0, err
	}
	if ok, err := keepsPolicyAdmin(rules); err != nil {
		return 0, err
	} else if !ok {
		const msg = "this change would leave no rule letting network_admin administer the policies: nobody could change them again"
		return 0, &apperr.Error{Code: apperr.Invalid, Message: msg, Fields: map[string]string{"rules": "keep an allow rule for role network_admin, category policies, action admin"}}
	}
	var version int64
	err := postgres.InTx(ctx, e.db, func(tx *sqlx.Tx) error {
		if err := lockPolicy(ctx, tx); err != nil {
			return err
		}
		cur, err := rulesVersion(ctx, tx)
		if err != nil {
			return err
		}
		if cur != ifMatch {
			return apperr.New(apperr.Conflict, "the policies changed since version %d (now %d): reload them and make your change again", ifMatch, cur)
		}
		version, err = writeRules(ctx, tx, actor.UserID, rules, summary)
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := e.Reload(ctx); err != nil {
		// Committed: the watcher will load it on its next check.
		e.log.Error("reload after policy change", slog.Int64("version", version), slog.String("error", err.Error()))
	}
	return version, nil
}

// keepsPolicyAdmin reports whether, under rules, network_admin may still
// administer the policies in a tenant of at least one kind.
func keepsPolicyAdmin(rules []Rule) (bool, error) {
	m, err := model.NewModelFromString(modelConf)
	if err != nil {
		return false, err
	}
	for _, r := range rules {
		if err := m.AddPolicy("p", "p", r.row()); err != nil {
			return false, err
		}
	}
	enf, err := casbin.NewEnforcer(m)
	if err != nil {
		return false, err
	}
	enf.AddFunction("listHas", listHas)
	for _, k := range tenants.Kinds {
		// A role name as subject stands for any holder of the role.
		ok, err := enf.Enforce(string(tenants.RoleNetworkAdmin), "any-tenant", kindPrefix+string(k), CatPolicies, ActAdmin, NotAPerson, NotAPerson)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
