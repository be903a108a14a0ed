package console

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// PasswordParams are the argon2id parameters of new password hashes:
// 19 MiB of memory, 2 passes, 1 lane, a 16-byte salt and a 32-byte key,
// OWASP's recommended minimum for argon2id (Password Storage Cheat Sheet).
// They are kept in each PHC-format hash, so raising them later still
// verifies the old hashes.
var PasswordParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Password length bounds, in characters.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// CheckPassword says what is wrong with a new password, or nil.
func CheckPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8")
	case n < MinPasswordLen:
		return fmt.Errorf("the password has %d characters: want at least %d", n, MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Errorf("the password has %d characters: want at most %d", n, MaxPasswordLen)
	}
	return nil
}

// HashPassword returns pw's argon2id hash as a PHC string
// ($argon2id$v=19$m=…,t=…,p=…$salt$key), with [PasswordParams].
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	h, err := argon2id.CreateHash(pw, PasswordParams)
	if err != nil {
		return "", fmt.Errorf("console: hash password: %w", err)
	}
	return h, nil
}

// VerifyPassword reports whether pw matches hash. The comparison of the
// derived keys is constant-time (argon2id uses crypto/subtle). A malformed
// hash never matches.
func VerifyPassword(pw, hash string) bool {
	if len(pw) > 4*MaxPasswordLen {
		return false
	}
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	return err == nil && ok
}
