package checkout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ResolveTimeout bounds the name lookup [CheckURL] makes for a merchant
// URL's host.
const ResolveTimeout = 3 * time.Second

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// merchantResolver is the resolver CheckURL uses. Tests of the lookup call
// [CheckURLContext] with their own resolver instead of changing this.
var merchantResolver Resolver = net.DefaultResolver

// CheckURL accepts absolute https URLs on public hosts. With allowInsecure
// it also accepts http and loopback or private hosts (development).
//
// The host is checked in every form a URL parser or the system resolver
// may read as an address (hex, octal, integer and short IPv4 forms such as
// 0x7f000001, 2130706433 or 127.1; IPv6, IPv4-mapped included), and a name
// is resolved, within [ResolveTimeout]: a name that does not resolve, or
// that resolves to any non-public address, is refused. The callback dialer
// checks the address again when it connects (the name may change).
func CheckURL(raw string, allowInsecure bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), ResolveTimeout)
	defer cancel()
	return CheckURLContext(ctx, raw, allowInsecure, merchantResolver)
}

// CheckURLContext is [CheckURL] with the caller's context and resolver
// (nil: no lookup, the host's syntax and literal addresses only; for URLs
// the bridge itself is configured with). The lookup is bounded by ctx and
// by [ResolveTimeout].
func CheckURLContext(ctx context.Context, raw string, allowInsecure bool, r Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("must be an absolute http(s) URL")
	}
	if allowInsecure {
		return nil
	}
	if u.Scheme != "https" {
		return errors.New("must use https")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return errors.New("must name a host")
	}
	name := strings.TrimSuffix(host, ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return errors.New("must not point at this machine")
	}
	if addr, isIP, err := hostAddr(host); err != nil {
		return err
	} else if isIP {
		if err := PublicAddr(addr); err != nil {
			return fmt.Errorf("must not point at a private or loopback address (%s: %w)", addr, err)
		}
		return nil
	}
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil || len(addrs) == 0 {
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return fmt.Errorf("host %s does not resolve (no such host)", name)
		case ctx.Err() != nil:
			return fmt.Errorf("host %s does not resolve (no answer within %s)", name, ResolveTimeout)
		case err != nil:
			// The resolver's error names our DNS server: not for the client.
			return fmt.Errorf("host %s does not resolve (the lookup failed; try again)", name)
		}
		return fmt.Errorf("host %s does not resolve (no address)", name)
	}
	for _, a := range addrs {
		if err := PublicAddr(a); err != nil {
			return fmt.Errorf("must not point at a private or loopback address (%s resolves to %s: %w)", name, a.Unmap(), err)
		}
	}
	return nil
}

// hostAddr reads a URL host (brackets already stripped) as an IP address
// if it is one in any form. isIP is false for a name. A host that looks
// like an address but is not a valid one (1.2.3.4.5, 0x1g, an IPv6 zone) is
// an error rather than a name: resolvers differ on such hosts.
//
// The IPv4 rules are the WHATWG URL standard's (which browsers and the C
// library's inet_aton follow, and Go's net package does not): a host whose
// last label is a number is an IPv4 address of one to four parts, each
// decimal, 0x-hex or 0-octal, the last part filling the remaining bytes.
// No library on hand does this normalisation, hence the code here.
func hostAddr(host string) (addr netip.Addr, isIP bool, err error) {
	if strings.Contains(host, ":") {
		if strings.Contains(host, "%") {
			return netip.Addr{}, false, errors.New("must not use an IPv6 zone")
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return netip.Addr{}, false, fmt.Errorf("host %q is not a valid IPv6 address", host)
		}
		return a, true, nil
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if !numericLabel(labels[len(labels)-1]) {
		return netip.Addr{}, false, nil
	}
	a, ok := parseIPv4(labels)
	if !ok {
		return netip.Addr{}, false, fmt.Errorf("host %q is not a valid IPv4 address", host)
	}
	return a, true, nil
}

// numericLabel reports whether a label is a number in the WHATWG sense
// (all decimal digits, or 0x followed by hex digits): such a last label
// makes the host an IPv4 address.
func numericLabel(s string) bool {
	if s == "" {
		return false
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		_, err := strconv.ParseUint("0"+s[2:], 16, 64)
		return err == nil || errors.Is(err, strconv.ErrRange)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func parseIPv4(labels []string) (netip.Addr, bool) {
	if len(labels) > 4 {
		return netip.Addr{}, false
	}
	parts := make([]uint64, len(labels))
	for i, l := range labels {
		base, digits := 10, l
		switch {
		case strings.HasPrefix(l, "0x") || strings.HasPrefix(l, "0X"):
			base, digits = 16, l[2:]
		case len(l) > 1 && l[0] == '0':
			base, digits = 8, l[1:]
		}
		if l == "" {
			return netip.Addr{}, false // "1..2"
		}
		if digits == "" { // "0x" alone is 0
			continue
		}
		n, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		parts[i] = n
	}
	last := parts[len(parts)-1]
	for _, p := range parts[:len(parts)-1] {
		if p > 255 {
			return netip.Addr{}, false
		}
	}
	if last >= 1<<(8*(5-len(parts))) {
		return netip.Addr{}, false
	}
	var v uint32
	for i, p := range parts[:len(parts)-1] {
		v |= uint32(p) << (8 * (3 - i))
	}
	v |= uint32(last)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// nonPublic are the special-purpose ranges a merchant URL must not reach
// (IANA's IPv4 and IPv6 special-purpose registries, the parts that are not
// globally reachable). Ranges that embed an IPv4 address (IPv4-mapped,
// NAT64, 6to4) are checked on the embedded address instead.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "100::/64", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4Compat  = netip.MustParsePrefix("::/96")
)

// PublicAddr returns nil for a globally reachable unicast address and an
// error naming the range otherwise. IPv4-mapped (::ffff:a.b.c.d),
// IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// addresses are judged by the IPv4 address they carry.
func PublicAddr(a netip.Addr) error {
	if !a.IsValid() {
		return errors.New("not an address")
	}
	if a.Zone() != "" {
		return errors.New("zoned address")
	}
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a) || (v4Compat.Contains(a) && !a.IsUnspecified() && !a.IsLoopback()):
			if err := PublicAddr(netip.AddrFrom4([4]byte(b[12:16]))); err != nil {
				return fmt.Errorf("embeds a non-public IPv4 address: %w", err)
			}
		case sixToFour.Contains(a):
			if err := PublicAddr(netip.AddrFrom4([4]byte(b[2:6]))); err != nil {
				return fmt.Errorf("embeds a non-public IPv4 address: %w", err)
			}
		}
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return fmt.Errorf("in %s", p)
		}
	}
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return errors.New("broadcast")
	}
	return nil
}
