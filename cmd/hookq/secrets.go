package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// secretFlag is a secret given either inline (--admin-token) or as a file
// (--admin-token-file), so it can stay out of `ps` and shell history.
type secretFlag struct {
	name  string  // flag name of the inline form
	value *string // inline value; the file's content ends up here
	file  *string // --<name>-file
}

// secretFlags are serve's secrets.
func (c *serveConfig) secretFlags() []secretFlag {
	return []secretFlag{
		{"admin-token", &c.adminToken, &c.adminTokenFile},
		{"cluster-key", &c.clusterKey, &c.clusterKeyFile},
		{"ingest-key", &c.ingestKey, &c.ingestKeyFile},
	}
}

// resolveSecrets reads the --*-file secrets. A secret given both inline
// and as a file at the same level (both flags, or both HOOKQ_ variables) is
// an error; a flag on the command line wins over the environment variable
// of the other form. fromCLI names the flags set on the command line.
func resolveSecrets(c *serveConfig, fromCLI map[string]bool, log *slog.Logger) error {
	for _, s := range c.secretFlags() {
		fileFlag := s.name + "-file"
		if *s.file == "" {
			continue
		}
		if *s.value != "" {
			switch {
			case fromCLI[s.name] == fromCLI[fileFlag]:
				how := "flags"
				if !fromCLI[s.name] {
					how = "environment variables"
				}
				return fmt.Errorf("--%s and --%s are both set (as %s): give one", s.name, fileFlag, how)
			case fromCLI[s.name]:
				log.Info("secret given on the command line; ignoring its file from the environment", "flag", s.name, "ignored", envName(fileFlag))
				continue
			default:
				log.Info("secret file given on the command line; ignoring the environment variable", "flag", fileFlag, "ignored", envName(s.name))
			}
		}
		v, err := readSecretFile(*s.file, log)
		if err != nil {
			return fmt.Errorf("--%s: %w", fileFlag, err)
		}
		*s.value = v
	}
	return nil
}

// envName is the variable applyEnv reads for a flag.
func envName(flag string) string {
	return "HOOKQ_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// readSecretFile reads a one-line secret (a trailing newline is dropped).
// A file that other users may read is accepted with a warning: Docker and
// Kubernetes mount secrets 0444/0644 by default, inside a private mount.
func readSecretFile(path string, log *slog.Logger) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("secret file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		log.Warn("secret file is readable by other users; chmod 600 it (or keep it on a private mount)",
			"file", path, "mode", fmt.Sprintf("%04o", perm))
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the secret file (a *-file flag); checked above to be a regular file
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	switch {
	case s == "":
		return "", fmt.Errorf("secret file %s: %w", path, errEmptySecret)
	case strings.ContainsAny(s, "\r\n"):
		return "", fmt.Errorf("secret file %s: more than one line", path)
	case strings.TrimSpace(s) != s:
		return "", fmt.Errorf("secret file %s: leading or trailing spaces", path)
	}
	return s, nil
}

var errEmptySecret = errors.New("empty")

// credentialNotes logs what a voter's credentials mean, at start: how to
// get admin access when there is no admin token, and the key choices that
// weaken the separation of the credentials.
func credentialNotes(c serveConfig, clustered bool, log *slog.Logger) {
	if c.adminToken == "" {
		log.Warn("started without --admin-token: the /v1 API accepts only tokens stored in the cluster. " +
			"For admin access, restart with --admin-token-file <file> (or HOOKQ_ADMIN_TOKEN_FILE / HOOKQ_ADMIN_TOKEN; " +
			"--admin-token shows the secret in ps), then mint scoped tokens with POST /v1/tokens " +
			"(e.g. consume:<queue>, publish:<queue>, read:*) for applications, and keep the admin token for operators")
	}
	switch {
	case c.clusterKey == "" && clustered:
		log.Warn("no --cluster-key (and no admin token to default to): node-to-node calls will be refused")
	case c.clusterKey != "" && c.clusterKey == c.adminToken && clustered:
		log.Info("the cluster key is the admin token (the default without --cluster-key): every peer holds admin access; set --cluster-key-file to a separate secret")
	}
	switch {
	case c.ingestKey == "":
	case c.ingestKey == c.clusterKey:
		log.Warn("--ingest-key equals the cluster key: ingest nodes get every node-to-node right; use a separate secret")
	case c.ingestKey == c.adminToken:
		log.Warn("--ingest-key equals the admin token: ingest nodes hold admin access; use a separate secret")
	}
}

// ingestCredential is the secret an ingest node presents: --ingest-key,
// or, for clusters whose voters have none, the cluster key (which defaults
// to the admin token), with a warning.
func ingestCredential(c serveConfig, log *slog.Logger) (string, error) {
	switch {
	case c.ingestKey != "":
		return c.ingestKey, nil
	case c.clusterKey != "":
		what := "the cluster key"
		if c.clusterKey == c.adminToken {
			what = "the admin token (as the cluster key)"
		}
		log.Warn("no --ingest-key: this ingest node presents "+what+", which grants every node-to-node right "+
			"(membership, any Raft operation); give the voters and this node an --ingest-key-file", "presents", what)
		return c.clusterKey, nil
	}
	return "", errNoIngestKey
}
