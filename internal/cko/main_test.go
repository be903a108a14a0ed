package cko_test

import (
	"testing"

	"paybridge/internal/testenv"
)

// TestMain fails the run if a test leaves goroutines behind: the
// simulators and clients here start servers and connections that must
// all be closed.
func TestMain(m *testing.M) { testenv.Main(m) }
