package main

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSecret(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

// parseServe parses serve's flags and env like runServe and resolves the
// secrets; the log goes to the returned buffer.
func parseServe(t *testing.T, args ...string) (serveConfig, string, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c serveConfig
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	fromCLI := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { fromCLI[f.Name] = true })
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := resolveSecrets(&c, fromCLI, slog.New(slog.NewTextHandler(&buf, nil)))
	return c, buf.String(), err
}

func TestSecretFiles(t *testing.T) {
	for _, name := range []string{"HOOKQ_ADMIN_TOKEN", "HOOKQ_ADMIN_TOKEN_FILE", "HOOKQ_CLUSTER_KEY", "HOOKQ_CLUSTER_KEY_FILE", "HOOKQ_INGEST_KEY", "HOOKQ_INGEST_KEY_FILE"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	admin := writeSecret(t, "adm-secret\n", 0o600)
	cluster := writeSecret(t, "cluster-secret\r\n", 0o600)
	ingestF := writeSecret(t, "ingest-secret", 0o600)

	c, logs, err := parseServe(t, "--admin-token-file", admin, "--cluster-key-file", cluster, "--ingest-key-file", ingestF)
	if err != nil || c.adminToken != "adm-secret" || c.clusterKey != "cluster-secret" || c.ingestKey != "ingest-secret" {
		t.Fatalf("files: %+v %v", c, err)
	}
	if strings.Contains(logs, "adm-secret") {
		t.Fatalf("a secret was logged: %s", logs)
	}

	// Both forms on the command line: an error, for each secret.
	for _, pair := range [][]string{
		{"--admin-token", "x", "--admin-token-file", admin},
		{"--cluster-key", "x", "--cluster-key-file", cluster},
		{"--ingest-key", "x", "--ingest-key-file", ingestF},
	} {
		if _, _, err := parseServe(t, pair...); err == nil || !strings.Contains(err.Error(), "both set") {
			t.Fatalf("%v: err %v, want both set", pair, err)
		}
	}

	// The environment variable of the file form works (applyEnv).
	t.Setenv("HOOKQ_ADMIN_TOKEN_FILE", admin)
	if c, _, err := parseServe(t); err != nil || c.adminToken != "adm-secret" {
		t.Fatalf("HOOKQ_ADMIN_TOKEN_FILE: %q %v", c.adminToken, err)
	}
	// A flag on the command line beats the other form's variable.
	if c, _, err := parseServe(t, "--admin-token", "inline"); err != nil || c.adminToken != "inline" {
		t.Fatalf("--admin-token over HOOKQ_ADMIN_TOKEN_FILE: %q %v", c.adminToken, err)
	}
	// Both variables: an error.
	t.Setenv("HOOKQ_ADMIN_TOKEN", "inline")
	if _, _, err := parseServe(t); err == nil || !strings.Contains(err.Error(), "environment") {
		t.Fatalf("both variables: %v", err)
	}
	os.Unsetenv("HOOKQ_ADMIN_TOKEN_FILE")
	os.Unsetenv("HOOKQ_ADMIN_TOKEN")

	// Files that cannot be a secret.
	for name, path := range map[string]string{
		"empty":      writeSecret(t, "\n", 0o600),
		"two lines":  writeSecret(t, "a\nb\n", 0o600),
		"spaces":     writeSecret(t, " a \n", 0o600),
		"missing":    filepath.Join(t.TempDir(), "nope"),
		"not a file": t.TempDir(),
	} {
		if _, _, err := parseServe(t, "--admin-token-file", path); err == nil {
			t.Errorf("%s secret file accepted", name)
		}
	}

	// A file other users may read: accepted, with a warning that does not
	// show the secret.
	open := writeSecret(t, "open-secret\n", 0o644)
	c, logs, err = parseServe(t, "--cluster-key-file", open)
	if err != nil || c.clusterKey != "open-secret" {
		t.Fatalf("0644 file: %q %v", c.clusterKey, err)
	}
	if !strings.Contains(logs, "readable by other users") || !strings.Contains(logs, "0644") || strings.Contains(logs, "open-secret") {
		t.Fatalf("0644 file: log %q", logs)
	}
}

func TestNoAdminTokenSaysHowToGetAdmin(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	credentialNotes(serveConfig{}, false, log)
	out := buf.String()
	for _, want := range []string{"without --admin-token", "--admin-token-file", "HOOKQ_ADMIN_TOKEN", "POST /v1/tokens"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no-admin-token note lacks %q: %s", want, out)
		}
	}
	buf.Reset()
	credentialNotes(serveConfig{adminToken: "a", clusterKey: "k", ingestKey: "i"}, true, log)
	if buf.Len() != 0 {
		t.Fatalf("notes for separate secrets: %s", buf.String())
	}
	credentialNotes(serveConfig{adminToken: "a", clusterKey: "k", ingestKey: "k"}, true, log)
	if !strings.Contains(buf.String(), "--ingest-key equals the cluster key") || strings.Contains(buf.String(), `"k"`) {
		t.Fatalf("same ingest and cluster key: %s", buf.String())
	}
}

func TestIngestCredentialFallsBackWithAWarning(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if k, err := ingestCredential(serveConfig{ingestKey: "i", clusterKey: "k"}, log); err != nil || k != "i" || buf.Len() != 0 {
		t.Fatalf("ingest key: %q %v %s", k, err, buf.String())
	}
	if k, err := ingestCredential(serveConfig{clusterKey: "k"}, log); err != nil || k != "k" || !strings.Contains(buf.String(), "no --ingest-key") {
		t.Fatalf("fallback: %q %v %s", k, err, buf.String())
	}
	if _, err := ingestCredential(serveConfig{}, log); err == nil {
		t.Fatal("no credential at all accepted")
	}
}

func TestDevBannerShowsWhatIsInEffect(t *testing.T) {
	var buf bytes.Buffer
	printDevHelp(&buf, "127.0.0.1:8080", "s3cr'et", "some/dir")
	out := buf.String()
	abs, _ := filepath.Abs("some/dir")
	for _, want := range []string{"admin token: s3cr'et", "data: " + abs, `'Authorization: Bearer s3cr'\''et'`} {
		if !strings.Contains(out, want) {
			t.Fatalf("banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Bearer dev") || strings.Contains(out, "./hookq-data") {
		t.Fatalf("banner shows the defaults, not what is in effect:\n%s", out)
	}
}
