package checkout

import "slices"

// GatewayNames returns the names of the registered gateway adapters in the
// order they were registered: the bridge registers its default gateway
// first (UPayments), and forms that preselect one pick the first. Platforms
// list them on their connect and settings forms, with
// [Service.Capabilities] for each.
func (s *Service) GatewayNames() []string {
	return slices.Clone(s.gatewayOrder)
}
