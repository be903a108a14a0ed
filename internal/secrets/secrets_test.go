package secrets_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"paybridge/internal/secrets"
)

func mustKey(t *testing.T) (string, *secrets.Keyring) {
	t.Helper()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.ParseKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, kr
}

func TestRoundTrip(t *testing.T) {
	_, kr := mustKey(t)
	for _, tc := range []struct {
		name string
		pt   []byte
		aad  []byte
	}{
		{"empty", []byte{}, nil},
		{"text", []byte("sk_live_abc"), []byte("shops/1/credentials")},
		{"binary", bytes.Repeat([]byte{0, 1, 255}, 1000), []byte("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := kr.Seal(tc.pt, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, "v1:"+kr.PrimaryID()+":") {
				t.Fatalf("sealed = %q, want v1:<id>: prefix", s)
			}
			if len(tc.pt) > 4 && strings.Contains(s, string(tc.pt)) {
				t.Fatal("plaintext visible in sealed value")
			}
			got, err := kr.Open(s, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.pt) {
				t.Fatalf("Open = %q, want %q", got, tc.pt)
			}
			s2, _ := kr.Seal(tc.pt, tc.aad)
			if s2 == s {
				t.Fatal("two seals of the same value are identical: nonce reused")
			}
		})
	}
}

func TestOpenFailures(t *testing.T) {
	_, kr := mustKey(t)
	_, other := mustKey(t)
	const secret = "whsec_supersecretvalue"
	s, err := kr.Seal([]byte(secret), []byte("aad-1"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string) string {
		i := strings.LastIndex(s, ":")
		raw, _ := base64.StdEncoding.DecodeString(s[i+1:])
		raw[len(raw)-1] ^= 1
		return s[:i+1] + base64.StdEncoding.EncodeToString(raw)
	}
	for _, tc := range []struct {
		name   string
		kr     *secrets.Keyring
		sealed string
		aad    string
		want   error
	}{
		{"tampered", kr, flip(s), "aad-1", secrets.ErrDecrypt},
		{"wrong aad", kr, s, "aad-2", secrets.ErrDecrypt},
		{"no aad", kr, s, "", secrets.ErrDecrypt},
		{"unknown key", other, s, "aad-1", secrets.ErrUnknownKey},
		{"bad version", kr, "v2" + s[2:], "aad-1", secrets.ErrMalformed},
		{"plain text", kr, "hello", "aad-1", secrets.ErrMalformed},
		{"bad base64", kr, "v1:" + kr.PrimaryID() + ":!!!", "aad-1", secrets.ErrMalformed},
		{"short payload", kr, "v1:" + kr.PrimaryID() + ":AAAA", "aad-1", secrets.ErrMalformed},
		{"empty", kr, "", "", secrets.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.kr.Open(tc.sealed, []byte(tc.aad))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatal("error leaks plaintext")
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldB64, oldKR := mustKey(t)
	newB64, _ := mustKey(t)
	sealedOld, err := oldKR.Seal([]byte("token"), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.ParseKey(newB64 + ", " + oldB64)
	if err != nil {
		t.Fatal(err)
	}
	if ids := ring.IDs(); len(ids) != 2 || ids[0] != ring.PrimaryID() || ids[1] != oldKR.PrimaryID() {
		t.Fatalf("IDs = %v", ids)
	}
	got, err := ring.Open(sealedOld, []byte("a"))
	if err != nil || string(got) != "token" {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	sealedNew, _ := ring.Seal([]byte("token"), []byte("a"))
	if id, _ := secrets.KeyIDOf(sealedNew); id != ring.PrimaryID() || id == oldKR.PrimaryID() {
		t.Fatalf("new value sealed with %s, want primary %s", id, ring.PrimaryID())
	}
	if id, _ := secrets.KeyIDOf(sealedOld); id != oldKR.PrimaryID() {
		t.Fatalf("KeyIDOf(old) = %s", id)
	}
	if _, err := oldKR.Open(sealedNew, []byte("a")); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("old ring opened new value: %v", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 31))
	long := base64.StdEncoding.EncodeToString(make([]byte, 33))
	good, _ := secrets.GenerateKey()
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"good", good, true},
		{"good unpadded, spaces", "  " + strings.TrimRight(good, "=") + "\n", true},
		{"empty", "", false},
		{"not base64", "this is not base64 at all!!", false},
		{"31 bytes", short, false},
		{"33 bytes", long, false},
		{"hex", strings.Repeat("ab", 32), false},
		{"trailing comma", good + ",", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secrets.ParseKey(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, secrets.ErrBadKey) {
				t.Fatalf("err = %v, want ErrBadKey", err)
			}
			if tc.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Fatal("error echoes key material")
			}
		})
	}
	if _, err := secrets.NewKeyring(make([]byte, 16)); !errors.Is(err, secrets.ErrBadKey) {
		t.Fatalf("NewKeyring(16 bytes) = %v", err)
	}
}

func TestKeyIDStable(t *testing.T) {
	k, kr := mustKey(t)
	kr2, _ := secrets.ParseKey(k)
	if kr.PrimaryID() != kr2.PrimaryID() || len(kr.PrimaryID()) != 16 {
		t.Fatalf("ids %q %q", kr.PrimaryID(), kr2.PrimaryID())
	}
	if strings.Contains(k, kr.PrimaryID()) {
		t.Fatal("id reveals key")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "master.key")
	kr, created, err := secrets.LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %04o, want 0600", fi.Mode().Perm())
	}
	sealed, _ := kr.Seal([]byte("x"), nil)
	kr2, created, err := secrets.LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("reload: created=%v err=%v", created, err)
	}
	if got, err := kr2.Open(sealed, nil); err != nil || string(got) != "x" {
		t.Fatalf("reloaded key cannot open: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}

	t.Run("group readable refused", func(t *testing.T) {
		if err := os.Chmod(path, 0o640); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, 0o600)
		_, _, err := secrets.LoadOrCreateKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("err = %v, want a mode error", err)
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(err.Error(), strings.TrimSpace(string(b))) {
			t.Fatal("error leaks the key")
		}
	})
	t.Run("world readable refused", func(t *testing.T) {
		p := filepath.Join(dir, "world.key")
		k, _ := secrets.GenerateKey()
		if err := os.WriteFile(p, []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o644)
		if _, _, err := secrets.LoadOrCreateKeyFile(p); err == nil {
			t.Fatal("world-readable key file accepted")
		}
	})
	t.Run("garbage refused", func(t *testing.T) {
		p := filepath.Join(dir, "bad.key")
		if err := os.WriteFile(p, []byte("not a key"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := secrets.LoadOrCreateKeyFile(p); !errors.Is(err, secrets.ErrBadKey) {
			t.Fatalf("err = %v, want ErrBadKey", err)
		}
	})
	t.Run("directory refused", func(t *testing.T) {
		if _, _, err := secrets.LoadOrCreateKeyFile(dir); err == nil {
			t.Fatal("directory accepted as key file")
		}
	})
}

func TestLoadOrCreateKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kr, _, err := secrets.LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = kr.PrimaryID()
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("racing creators got different keys: %v", ids)
		}
	}
}
