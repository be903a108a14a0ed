package api

import "testing"

// The callback dialer refuses what the core refuses at create time, once
// the name is resolved: a public name pointing at a private address does
// not get a callback.
func TestRefusePrivate(t *testing.T) {
	for addr, ok := range map[string]bool{
		"93.184.216.34:443": true, "[2606:2800:220:1:248:1893:25c8:1946]:443": true,
		"127.0.0.1:443": false, "10.1.2.3:443": false, "192.168.1.1:80": false, "100.64.0.1:443": false,
		"169.254.169.254:80": false, "[::1]:443": false, "[::ffff:127.0.0.1]:443": false, "[fc00::1]:443": false,
		"0.0.0.0:443": false, "not-an-address": false,
	} {
		if err := refusePrivate("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", addr, err, ok)
		}
	}
}
