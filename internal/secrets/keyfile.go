package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// LoadOrCreateKeyFile reads the key ring from path (the [ParseKey] format:
// base64, optionally several keys comma-separated), or, when the file does
// not exist, generates a random key and writes it there with mode 0600 and
// reports created. Callers should log a warning when created is true: a new
// key means secrets sealed with any earlier key cannot be read.
//
// An existing file that the group or others may read or write is refused,
// as is anything that is not a regular file. Creation is atomic: two
// processes racing end up using the same key.
func LoadOrCreateKeyFile(path string) (kr *Keyring, created bool, err error) {
	kr, err = loadKeyFile(path)
	if err == nil {
		return kr, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, false, err
	}
	if err := writeKeyFile(path, key); err != nil {
		if errors.Is(err, fs.ErrExist) { // lost a race: use the winner's key
			kr, err = loadKeyFile(path)
			return kr, false, err
		}
		return nil, false, err
	}
	kr, err = ParseKey(key)
	if err != nil {
		return nil, false, err
	}
	return kr, true, nil
}

func loadKeyFile(path string) (*Keyring, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets: key file %s has mode %04o: group or others can access it; run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: key file: %w", err)
	}
	kr, err := ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("secrets: key file %s: %w", path, err)
	}
	return kr, nil
}

// writeKeyFile writes key to a temporary file in path's directory, syncs it
// and hard-links it into place, which fails with fs.ErrExist if another
// process got there first.
func writeKeyFile(path, key string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secrets: create key file directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".keyfile-*")
	if err != nil {
		return fmt.Errorf("secrets: create key file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("secrets: create key file: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("secrets: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("secrets: sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("secrets: close key file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("secrets: install key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
