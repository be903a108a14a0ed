package checkout

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeResolver answers from a map; a name not in it is not found, and
// "slow.example" answers only when the context ends.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if host == "slow.example" {
		<-ctx.Done()
		return nil, &net.DNSError{Err: ctx.Err().Error(), Name: host, IsTimeout: true}
	}
	if host == "broken.example" {
		return nil, &net.DNSError{Err: "server misbehaving", Name: host, IsTemporary: true}
	}
	ss, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	r := fakeResolver{
		"shop.example":   {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
		"loop.example":   {"127.0.0.1"},
		"mixed.example":  {"93.184.216.34", "10.1.2.3"},
		"v6loop.example": {"::1"},
		"mapped.example": {"::ffff:127.0.0.1"},
		"meta.example":   {"169.254.169.254"},
		"ula.example":    {"fd00::1"},
		"empty.example":  {},
	}
	tests := []struct {
		url  string
		want string // "" accepts; otherwise a substring of the error
	}{
		{"https://shop.example/return", ""},
		{"https://shop.example.:8443/return?x=1", ""},
		{"https://93.184.216.34/x", ""},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/x", ""},
		{"https://0x5db8d822/", ""}, // 93.184.216.34 in hex: public, accepted

		{"http://shop.example/", "must use https"},
		{"ftp://shop.example/", "absolute http(s) URL"},
		{"/relative", "absolute http(s) URL"},
		{"https://user:pw@shop.example/", ""}, // basic auth on a merchant's endpoint
		{"https://localhost/", "this machine"},
		{"https://LOCALHOST./", "this machine"},
		{"https://app.localhost/", "this machine"},

		// Every numeric IPv4 form of 127.0.0.1.
		{"https://127.0.0.1:8443/", "private or loopback"},
		{"https://0x7f000001:8443/", "private or loopback"},
		{"https://0X7F000001/", "private or loopback"},
		{"https://2130706433:8443/", "private or loopback"},
		{"https://017700000001/", "private or loopback"},
		{"https://127.1:8443/", "private or loopback"},
		{"https://127.0.1/", "private or loopback"},
		{"https://0x7f.1/", "private or loopback"},
		{"https://0177.0.0.1/", "private or loopback"},
		{"https://0x7f.0x0.0x0.0x1/", "private or loopback"},
		{"https://127.0.0.1./", "private or loopback"},
		{"https://0/", "private or loopback"},
		{"https://0x/", "private or loopback"},
		{"https://10.0.0.1/", "private or loopback"},
		{"https://167772161/", "private or loopback"}, // 10.0.0.1
		{"https://172.16.0.1/", "private or loopback"},
		{"https://192.168.1.1/", "private or loopback"},
		{"https://169.254.169.254/", "private or loopback"},
		{"https://100.64.0.1/", "private or loopback"},
		{"https://224.0.0.1/", "private or loopback"},
		{"https://255.255.255.255/", "private or loopback"},
		// Not addresses, but not names either.
		{"https://1.2.3.4.5/", "not a valid IPv4"},
		{"https://256.1.1.1/", "not a valid IPv4"},
		{"https://1.2.3.256/", "not a valid IPv4"},
		{"https://4294967296/", "not a valid IPv4"},
		{"https://09.1.1.1/", "not a valid IPv4"},
		{"https://1..1/", "not a valid IPv4"},
		{"https://example.0x1g/", "does not resolve"}, // a name (last label not a number)

		// IPv6.
		{"https://[::1]/", "private or loopback"},
		{"https://[::]/", "private or loopback"},
		{"https://[::ffff:127.0.0.1]/", "private or loopback"},
		{"https://[::ffff:7f00:1]/", "private or loopback"},
		{"https://[::ffff:10.0.0.1]/", "private or loopback"},
		{"https://[::127.0.0.1]/", "private or loopback"},
		{"https://[64:ff9b::7f00:1]/", "private or loopback"},
		{"https://[2002:7f00:1::]/", "private or loopback"},
		{"https://[fc00::1]/", "private or loopback"},
		{"https://[fd12:3456::1]/", "private or loopback"},
		{"https://[fe80::1]/", "private or loopback"},
		{"https://[fe80::1%25eth0]/", "zone"},
		{"https://[ff02::1]/", "private or loopback"},

		// Names, resolved.
		{"https://loop.example/", "loop.example resolves to 127.0.0.1"},
		{"https://mixed.example/", "resolves to 10.1.2.3"},
		{"https://v6loop.example/", "resolves to ::1"},
		{"https://mapped.example/", "resolves to 127.0.0.1"},
		{"https://meta.example/", "resolves to 169.254.169.254"},
		{"https://ula.example/", "resolves to fd00::1"},
		{"https://nowhere.example/", "nowhere.example does not resolve (no such host)"},
		{"https://empty.example/", "does not resolve (no address)"},
		{"https://broken.example/", "does not resolve (the lookup failed; try again)"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURLContext(context.Background(), tt.url, false, r)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			// Development mode takes anything absolute.
			if tt.want == "" || strings.Contains(tt.want, "loopback") || strings.Contains(tt.want, "this machine") {
				if err := CheckURLContext(context.Background(), strings.Replace(tt.url, "https:", "http:", 1), true, r); err != nil {
					t.Errorf("insecure mode refused: %v", err)
				}
			}
		})
	}
}

// TestCheckURLTimeout: a resolver that does not answer is cut off by
// ResolveTimeout or the caller's deadline, whichever comes first.
func TestCheckURLTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := CheckURLContext(ctx, "https://slow.example/", false, fakeResolver{})
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("%v", err)
	}
	if d := time.Since(t0); d > ResolveTimeout {
		t.Fatalf("took %s", d)
	}
}

// TestCheckURLRealResolver resolves through a real *net.Resolver talking
// DNS to a server in the test, which answers every A question with
// 127.0.0.1 and every other question with nothing.
func TestCheckURLRealResolver(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := loopbackAnswer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
	err = CheckURLContext(context.Background(), "https://rebind.example.com:8443/cb", false, r)
	if err == nil || !strings.Contains(err.Error(), "rebind.example.com resolves to 127.0.0.1") {
		t.Fatalf("%v", err)
	}
}

// loopbackAnswer builds the DNS reply to query q (RFC 1035 §4.1): the
// question echoed, and for type A one answer, 127.0.0.1. It is a few lines
// of test code rather than a DNS library in go.mod.
func loopbackAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	resp := append([]byte(nil), q[:2]...)       // id
	resp = append(resp, 0x84|q[2]&0x01, 0x00)   // QR, AA, RD copied; NOERROR
	resp = append(resp, 0, 1, 0, 0, 0, 0, 0, 0) // QD=1, AN, NS, AR = 0
	resp = append(resp, question...)
	if qtype == 1 {
		resp[7] = 1 // AN=1
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
	}
	return resp
}

// TestCheckURLDefault: CheckURL looks names up with the system resolver:
// a name that cannot resolve (.invalid, RFC 6761) is refused.
func TestCheckURLDefault(t *testing.T) {
	t.Parallel()
	err := CheckURL("https://nothing-here.invalid/", false)
	if err == nil || !strings.Contains(err.Error(), "nothing-here.invalid does not resolve") {
		t.Fatalf("%v", err)
	}
	if err := CheckURL("https://2130706433:8443/", false); err == nil {
		t.Fatal("integer loopback accepted")
	}
}

// TestValidateURLs: a payment's return, cancel and callback URLs are
// checked at create time, every numeric form included.
func TestValidateURLs(t *testing.T) {
	t.Parallel()
	s := NewService(nil, nil, Config{PublicURL: "https://bridge.example"})
	for _, field := range []string{"return_url", "cancel_url", "callback_url"} {
		for _, u := range []string{"https://0x7f000001:8443/", "https://2130706433:8443/", "https://127.1:8443/", "https://[::ffff:127.0.0.1]/"} {
			req := PaymentRequest{OrderID: "o-1", Amount: Money{Minor: 1000, Currency: "KWD"}}
			switch field {
			case "return_url":
				req.ReturnURL = u
			case "cancel_url":
				req.CancelURL = u
			default:
				req.CallbackURL = u
			}
			_, err := s.Validate(t.Context(), &req)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != field {
				t.Errorf("%s=%s: %v, want a ValidationError on %s", field, u, err, field)
			}
		}
	}
}
