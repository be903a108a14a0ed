package checkout

import (
	"maps"
	"slices"
)

// GatewayNames returns the names of the registered gateway adapters,
// sorted ("cko", "kupay", "upay"). Platforms list them on their connect
// and settings forms, with [Service.Capabilities] for each.
func (s *Service) GatewayNames() []string {
	return slices.Sorted(maps.Keys(s.gateways))
}
