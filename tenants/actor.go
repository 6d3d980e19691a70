package tenants

import "context"

// Role is what a staff member may do within one tenant.
type Role string

const (
	RoleTenantAdmin      Role = "tenant_admin"
	RoleSocialWorker     Role = "social_worker"
	RoleHealthWorker     Role = "health_worker"
	RoleJobCoach         Role = "job_coach"
	RolePlacementOfficer Role = "placement_officer"
	RoleCoordinator      Role = "coordinator"
	RoleNetworkAdmin     Role = "network_admin"
	RolePrivacyOfficer   Role = "privacy_officer"
)

// Roles lists every role.
var Roles = []Role{RoleTenantAdmin, RoleSocialWorker, RoleHealthWorker, RoleJobCoach,
	RolePlacementOfficer, RoleCoordinator, RoleNetworkAdmin, RolePrivacyOfficer}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Actor is who is acting in a request: an authenticated user acting for one
// of their tenants, with the roles they hold there.
type Actor struct {
	UserID     string
	Email      string
	SessionID  string
	TenantID   string
	TenantSlug string
	TenantKind Kind
	Roles      []Role
}

// Has reports whether the actor holds role r in the acting tenant.
func (a Actor) Has(r Role) bool {
	for _, v := range a.Roles {
		if v == r {
			return true
		}
	}
	return false
}

type actorKey struct{}

// WithActor returns ctx carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor carried by ctx.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
