package shopify

import (
	"errors"
	"slices"

	"paybridge/internal/checkout"
)

// gatewayNames lists the gateways a merchant can pick: those registered
// with the core.
func (p *Platform) gatewayNames() []string {
	if p.svc == nil {
		return nil
	}
	return p.svc.GatewayNames()
}

// gatewayName is how people call the named gateway ("Checkout.com").
func (p *Platform) gatewayName(gateway string) string {
	if p.svc != nil {
		if caps, ok := p.svc.Capabilities(gateway); ok && caps.DisplayName != "" {
			return caps.DisplayName
		}
	}
	return gateway
}

// unsupported returns the merchant-readable reason of an
// *checkout.UnsupportedError in err's chain.
func unsupported(err error) (string, bool) {
	var ue *checkout.UnsupportedError
	if errors.As(err, &ue) {
		return ue.Reason, true
	}
	return "", false
}

// unknownCredentials returns the names in creds that are none of the
// gateway's credential fields, sorted.
func unknownCredentials(caps checkout.Capabilities, creds map[string]string) []string {
	var out []string
	for k := range creds {
		if !slices.ContainsFunc(caps.Credentials, func(f checkout.CredentialField) bool { return f.Name == k }) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
