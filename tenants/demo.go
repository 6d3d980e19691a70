package tenants

import (
	"context"
	"fmt"
)

// DemoPassword is the password of every demo account. Demo accounts exist
// only in development (the seed refuses them in production).
const DemoPassword = "attivi-demo-2026"

// DemoAccount is one account of the demo: a person of DESIGN section 2 on a
// representative tenant.
type DemoAccount struct {
	Email, Name, Tenant string
	Roles               []string
}

// DemoAccounts has one account per role.
var DemoAccounts = []DemoAccount{
	{Email: "assistente.sociale@attivi.example", Name: "Giulia Bianchi (assistente sociale)", Tenant: "comune-bagno-a-ripoli", Roles: []string{"social_worker"}},
	{Email: "admin.comune@attivi.example", Name: "Paolo Neri (amministratore del Comune)", Tenant: "comune-bagno-a-ripoli", Roles: []string{"tenant_admin"}},
	{Email: "serd@attivi.example", Name: "Marta Rossi (educatrice SerD)", Tenant: "serd-sud-est", Roles: []string{"health_worker"}},
	{Email: "ufsma@attivi.example", Name: "Luca Verdi (psichiatra UFSMA)", Tenant: "ufsma-sud-est", Roles: []string{"health_worker"}},
	{Email: "operatore@attivi.example", Name: "Sara Conti (operatrice CO&SO)", Tenant: "coeso", Roles: []string{"job_coach"}},
	{Email: "collocamento@attivi.example", Name: "Andrea Galli (Collocamento Mirato)", Tenant: "collocamento-mirato-firenze", Roles: []string{"placement_officer"}},
	{Email: "coordinatore@attivi.example", Name: "Elena Fabbri (coordinamento)", Tenant: "coordinamento-attivi", Roles: []string{"coordinator"}},
	{Email: "dpo@attivi.example", Name: "Franco Serra (responsabile protezione dati)", Tenant: "coordinamento-attivi", Roles: []string{"privacy_officer"}},
	{Email: "admin@attivi.example", Name: "Amministratore di rete", Tenant: "coordinamento-attivi", Roles: []string{"network_admin"}},
}

// SeedDemo creates the demo accounts that do not exist yet; existing ones
// keep their password and get their demo membership and roles back.
func (s *Identity) SeedDemo(ctx context.Context) error {
	for _, d := range DemoAccounts {
		if _, _, err := s.AddMember(ctx, d.Tenant, NewMember{Email: d.Email, DisplayName: d.Name, Password: DemoPassword, Roles: d.Roles}, nil); err != nil {
			return fmt.Errorf("demo account %s: %w", d.Email, err)
		}
	}
	return nil
}
