package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Issue 9 review, item 8: the --dev banner shows https:// URLs when the
// listener speaks TLS, and says there is no admin token instead of
// printing an empty one.
func TestDevBannerSchemeAndMissingToken(t *testing.T) {
	var buf bytes.Buffer
	printDevHelp(&buf, "https://127.0.0.1:8443", "tok", "d")
	out := buf.String()
	if !strings.Contains(out, "ready on https://127.0.0.1:8443 ") || !strings.Contains(out, "https://127.0.0.1:8443/hooks/demo") || strings.Contains(out, "http://") {
		t.Errorf("TLS banner:\n%s", out)
	}
	buf.Reset()
	printDevHelp(&buf, "127.0.0.1:8080", "", "d")
	out = buf.String()
	if strings.Contains(out, "admin token: ,") || !strings.Contains(out, "admin token: none") || !strings.Contains(out, "Bearer <token>") {
		t.Errorf("banner without an admin token:\n%s", out)
	}
	if !strings.Contains(out, "http://127.0.0.1:8080/hooks/demo") {
		t.Errorf("plain banner:\n%s", out)
	}
}

// Issue 9 review, item 8: a cluster key set explicitly to the admin token
// is reported as such, not as a default.
func TestClusterKeyEqualToAdminTokenIsNotCalledADefault(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	credentialNotes(serveConfig{adminToken: "same", clusterKey: "same"}, true, log)
	if out := buf.String(); strings.Contains(out, "defaults to") || !strings.Contains(out, "the cluster key is the admin token") {
		t.Errorf("log:\n%s", out)
	}
}
