package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// docker-compose.yml: web and worker report their health with the
// binary itself (the image has no shell), the worker's operations port is
// published, and the passwords and public URL have no silent defaults.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Healthcheck struct {
				Test    []string `yaml:"test"`
				Disable bool     `yaml:"disable"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	// Keys overriding a merged anchor (<<: *bridge) are not duplicates to compose.
	if err := yaml.UnmarshalWithOptions(raw, &f, yaml.AllowDuplicateMapKey()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "worker"} {
		s, ok := f.Services[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		if got := strings.Join(s.Healthcheck.Test, " "); got != "CMD /bridge healthcheck --ready" {
			t.Errorf("%s healthcheck = %q", name, got)
		}
		if len(s.Ports) == 0 || !strings.HasSuffix(s.Ports[0], ":8080") {
			t.Errorf("%s publishes %v, want its port 8080", name, s.Ports)
		}
		for _, v := range []string{"BRIDGE_PUBLIC_URL", "BRIDGE_MASTER_KEY", "BRIDGE_DATABASE_URL"} {
			if !strings.Contains(s.Environment[v], ":?") || strings.Contains(s.Environment[v], ":-") {
				t.Errorf("%s %s = %q: want it required (${VAR:?message}), not defaulted", name, v, s.Environment[v])
			}
		}
	}
	if pw := f.Services["postgres"].Environment["POSTGRES_PASSWORD"]; !strings.HasPrefix(pw, "${POSTGRES_PASSWORD:?") {
		t.Errorf("POSTGRES_PASSWORD = %q: want it required", pw)
	}
	if !f.Services["migrate"].Healthcheck.Disable {
		t.Error("migrate, a one-shot, inherits the image's health check")
	}
}

// The Dockerfile builds with go.mod's toolchain and checks its health
// with the binary.
func TestDockerfile(t *testing.T) {
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	tc := regexp.MustCompile(`(?m)^toolchain go(\S+)$`).FindSubmatch(mod)
	if tc == nil {
		t.Fatal("go.mod has no toolchain line")
	}
	if !strings.Contains(string(df), "FROM golang:"+string(tc[1])+" AS build") {
		t.Errorf("the Dockerfile does not build with go%s", tc[1])
	}
	if !strings.Contains(string(df), `HEALTHCHECK `) || !strings.Contains(string(df), `CMD ["/bridge", "healthcheck"]`) {
		t.Error("the Dockerfile has no HEALTHCHECK running `bridge healthcheck`")
	}
}
