package web

import (
	"strings"

	"attivi/policies"
	"attivi/services/consents"
	"attivi/services/people"
	"attivi/services/referrals"
	"attivi/tenants"
)

// The Italian names of the codes the services use. A code missing here is
// shown as it is (better than hiding it).

var categoryNames = map[string]string{
	policies.CatIdentity:   "Identità",
	policies.CatContact:    "Contatti",
	policies.CatSocial:     "Situazione sociale",
	policies.CatHealth:     "Salute",
	policies.CatDisability: "Disabilità",
	policies.CatEmployment: "Percorso lavorativo",
	policies.CatStatus:     "Stato nel programma",
}

var linkNames = map[string]string{
	policies.LinkOwner:             "presa in carico",
	policies.LinkCareTeam:          "équipe di cura",
	policies.LinkProvider:          "servizio incaricato (segnalazione accettata)",
	policies.LinkReferralRecipient: "destinatario di una segnalazione",
	policies.LinkConference:        "partecipante a una riunione di rete",
	policies.LinkStatusObserver:    "osservatore dello stato nel programma",
}

var kindNames = map[tenants.Kind]string{
	tenants.KindMunicipality:     "Comune",
	tenants.KindHealthService:    "Servizio sanitario",
	tenants.KindEmploymentOffice: "Ufficio per l'impiego",
	tenants.KindThirdSector:      "Terzo settore",
	tenants.KindTrainingAgency:   "Agenzia formativa",
	tenants.KindCoordinator:      "Coordinamento",
}

var targetGroupNames = map[string]string{
	people.TargetL68:          "persona con disabilità iscritta al collocamento mirato (L. 68/1999)",
	people.TargetMentalHealth: "persona seguita dai servizi di salute mentale",
}

var referralStatusNames = map[referrals.Status]string{
	referrals.StatusRequested:  "In attesa di risposta",
	referrals.StatusAccepted:   "Accettata",
	referrals.StatusRejected:   "Rifiutata",
	referrals.StatusInProgress: "In corso",
	referrals.StatusOnHold:     "Sospesa",
	referrals.StatusCompleted:  "Conclusa",
	referrals.StatusCancelled:  "Annullata",
	referrals.StatusFailed:     "Non riuscita",
}

var priorityNames = map[string]string{
	"routine": "ordinaria",
	"urgent":  "urgente",
	"asap":    "appena possibile",
	"stat":    "immediata",
}

var reasonNames = map[string]string{
	"not_eligible":       "la persona non ha i requisiti",
	"no_capacity":        "nessun posto disponibile",
	"could_not_contact":  "persona non raggiungibile",
	"declined_by_person": "la persona ha rinunciato",
	"duplicate":          "segnalazione doppia",
	"other":              "altro",
}

var outcomeNames = map[string]string{
	"hired":       "assunzione",
	"internship":  "tirocinio",
	"training":    "formazione",
	"continuing":  "percorso in corso",
	"dropped_out": "abbandono",
	"other":       "altro",
}

var basisNames = map[string]string{
	consents.BasisConsent:    "consenso della persona",
	consents.BasisAdesione:   "adesione al programma",
	consents.BasisPublicTask: "compito di interesse pubblico",
}

var purposeNames = map[string]string{
	consents.PurposePresaInCarico:         "presa in carico",
	consents.PurposeInserimentoLavorativo: "inserimento lavorativo",
	consents.PurposeCaseConference:        "riunioni di rete",
	consents.PurposeMonitoraggio:          "monitoraggio del programma",
	consents.PurposeComunicazione:         "comunicazione (e-book, documentario)",
}

var consentStatusNames = map[consents.Status]string{
	consents.StatusScheduled: "non ancora valido",
	consents.StatusActive:    "valido",
	consents.StatusExpired:   "scaduto",
	consents.StatusRevoked:   "revocato",
}

var sexNames = map[string]string{"F": "femminile", "M": "maschile"}

// name returns the Italian name of code in names, or the code itself.
func name[K ~string](names map[K]string, code K) string {
	if n, ok := names[code]; ok {
		return n
	}
	return string(code)
}

// names is name for each code, joined by commas.
func names[K ~string](m map[K]string, codes []K) string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = name(m, c)
	}
	return strings.Join(out, ", ")
}

// granteeName is a consent's grantee: a tenant's slug, or every tenant of a
// kind.
func granteeName(g string) string {
	if kind, ok := strings.CutPrefix(g, consents.KindPrefix); ok {
		return "ogni ente di tipo «" + name(kindNames, tenants.Kind(kind)) + "»"
	}
	return g
}
