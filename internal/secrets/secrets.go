// Package secrets encrypts secrets at rest with AES-256-GCM.
//
// A [Keyring] holds one or more 32-byte keys, each named by an id derived
// from a hash of the key. [Keyring.Seal] always encrypts with the primary
// (first) key; [Keyring.Open] accepts any key of the ring, so a key can be
// rotated by putting the new key first and keeping the old ones after it
// until every value has been re-sealed.
//
// Sealed values are text: "v1:<keyid>:<base64(nonce||ciphertext)>". The
// additional authenticated data (AAD) passed to Seal must be passed again to
// Open; callers use it to bind a ciphertext to the row and column it belongs
// to, so that a value copied elsewhere does not decrypt.
//
// No error returned by this package contains key material or plaintext.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// version is the prefix of every sealed value this package writes.
const version = "v1"

// Errors returned by [Keyring.Open] and the key parsers; test with
// [errors.Is].
var (
	// ErrMalformed means a sealed value is not of the form
	// "v1:<keyid>:<base64>".
	ErrMalformed = errors.New("malformed sealed value")
	// ErrUnknownKey means a sealed value names a key the ring does not hold.
	ErrUnknownKey = errors.New("sealed with an unknown key")
	// ErrDecrypt means authentication failed: the value was altered, or the
	// AAD differs from the one it was sealed with.
	ErrDecrypt = errors.New("decryption failed (tampered value or wrong context)")
	// ErrBadKey means a key is not base64 of exactly 32 bytes.
	ErrBadKey = errors.New("invalid key")
)

// Keyring is a set of AES-256-GCM keys. The zero value is not usable; build
// one with [NewKeyring], [ParseKey] or [LoadOrCreateKeyFile]. A Keyring is
// safe for concurrent use.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
	ids     []string
}

// NewKeyring returns a ring that seals with primary and opens values sealed
// with primary or any of older. Every key must be exactly [KeySize] bytes.
// The keys are copied.
func NewKeyring(primary []byte, older ...[]byte) (*Keyring, error) {
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{primary}, older...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes, want %d", ErrBadKey, i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(append([]byte(nil), k...))
		if err != nil {
			return nil, fmt.Errorf("secrets: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: key %d: %w", i+1, err)
		}
		id := keyID(k)
		if _, dup := kr.aeads[id]; dup {
			continue
		}
		kr.aeads[id] = aead
		kr.ids = append(kr.ids, id)
		if i == 0 {
			kr.primary = id
		}
	}
	return kr, nil
}

// keyID names a key by the first 8 bytes of a domain-separated SHA-256 of
// it: stable, short, and useless for recovering the key.
func keyID(k []byte) string {
	h := sha256.New()
	h.Write([]byte("paybridge/secrets/key-id/v1\x00"))
	h.Write(k)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ParseKey reads a key as given in BRIDGE_MASTER_KEY: standard base64
// (padded or not) of exactly 32 bytes, surrounding spaces ignored. For
// rotation it also accepts a comma-separated list: the first key seals,
// every key opens.
func ParseKey(b64 string) (*Keyring, error) {
	parts := strings.Split(strings.TrimSpace(b64), ",")
	keys := make([][]byte, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("%w: key %d is empty; want base64 of %d random bytes (e.g. `openssl rand -base64 32`)", ErrBadKey, i+1, KeySize)
		}
		k, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			k, err = base64.RawStdEncoding.DecodeString(p)
		}
		if err != nil {
			// The decoder's error names the offset, never the key.
			return nil, fmt.Errorf("%w: key %d is not valid base64; want base64 of %d random bytes (e.g. `openssl rand -base64 32`)", ErrBadKey, i+1, KeySize)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w: key %d decodes to %d bytes, want exactly %d", ErrBadKey, i+1, len(k), KeySize)
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys[0], keys[1:]...)
}

// GenerateKey returns a new random key, base64-encoded as [ParseKey]
// expects.
func GenerateKey() (string, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("secrets: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// PrimaryID returns the id of the key that seals.
func (kr *Keyring) PrimaryID() string { return kr.primary }

// IDs returns the ids of every key in the ring, primary first.
func (kr *Keyring) IDs() []string { return append([]string(nil), kr.ids...) }

// Seal encrypts plaintext with the primary key, binding it to aad, and
// returns "v1:<keyid>:<base64(nonce||ciphertext)>". Every call uses a fresh
// random nonce.
func (kr *Keyring) Seal(plaintext, aad []byte) (string, error) {
	if kr == nil || kr.primary == "" {
		return "", errors.New("secrets: seal: keyring not initialised")
	}
	aead := kr.aeads[kr.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: seal: nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, plaintext, aad)
	return version + ":" + kr.primary + ":" + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by [Keyring.Seal] with any key of the ring. aad
// must equal the one given to Seal.
func (kr *Keyring) Open(sealed string, aad []byte) ([]byte, error) {
	if kr == nil || kr.primary == "" {
		return nil, errors.New("secrets: open: keyring not initialised")
	}
	ver, rest, ok1 := strings.Cut(sealed, ":")
	id, b64, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || ver != version {
		return nil, fmt.Errorf("secrets: open: %w", ErrMalformed)
	}
	aead, ok := kr.aeads[id]
	if !ok {
		return nil, fmt.Errorf("secrets: open: %w %q (known: %s)", ErrUnknownKey, id, strings.Join(kr.ids, ", "))
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("secrets: open: %w: bad payload", ErrMalformed)
	}
	ns := aead.NonceSize()
	pt, err := aead.Open(nil, raw[:ns], raw[ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("secrets: open: %w", ErrDecrypt)
	}
	return pt, nil
}

// KeyIDOf returns the id of the key a sealed value was made with, so that
// callers can find values to re-seal after a rotation.
func KeyIDOf(sealed string) (string, error) {
	ver, rest, ok1 := strings.Cut(sealed, ":")
	id, _, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || ver != version || id == "" {
		return "", fmt.Errorf("secrets: %w", ErrMalformed)
	}
	return id, nil
}
