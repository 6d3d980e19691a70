// Package tenants holds the organisations of the network (tenants), the
// municipality reference table and, later, staff identity and sessions.
package tenants

import (
	"time"
)

// Kind is what sort of organisation a tenant is. The network rules grant data
// by kind (the employment office never receives health data, for example).
type Kind string

const (
	KindMunicipality     Kind = "municipality"
	KindHealthService    Kind = "health_service"
	KindEmploymentOffice Kind = "employment_office"
	KindThirdSector      Kind = "third_sector"
	KindTrainingAgency   Kind = "training_agency"
	KindCoordinator      Kind = "coordinator"
)

// Kinds lists every tenant kind.
var Kinds = []Kind{KindMunicipality, KindHealthService, KindEmploymentOffice, KindThirdSector, KindTrainingAgency, KindCoordinator}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// Tenant is an organisation of the network.
type Tenant struct {
	ID         string
	Slug       string
	Name       string
	Kind       Kind
	ParentSlug string // empty when the tenant has no parent
	ISTATCode  string // municipalities only
	CreatedAt  time.Time
}

// Municipality is a row of the reference table: a municipality with the
// period its ISTAT code was valid and, for merged ones, its successor.
type Municipality struct {
	ISTATCode  string
	Name       string
	Province   string
	ValidFrom  *time.Time
	ValidUntil *time.Time
	Successor  string
	InZone     bool
	ZoneSince  *time.Time
}

// ValidOn reports whether the code was in use on day d.
func (m Municipality) ValidOn(d time.Time) bool {
	if m.ValidFrom != nil && d.Before(*m.ValidFrom) {
		return false
	}
	if m.ValidUntil != nil && d.After(*m.ValidUntil) {
		return false
	}
	return true
}
