package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/ingest"
	"github.com/hookq/hookq/ingest/ingesttest"
)

// hookq send --provider X signs a request that a source verified as X
// accepts (202), for every verify.type; with another secret it is refused
// (exit 1 with the API's 401), where the type checks a secret at all.
func TestSendSignsEveryPresetSoItsSourceAcceptsIt(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "inbox", nil)
	ctx := context.Background()
	for _, typ := range ingest.Types() {
		t.Run(typ, func(t *testing.T) {
			signKey, verifyKey := ingesttest.Keys(t, typ)
			name := "send-" + typ
			if _, err := n.Broker.PutSource(ctx, name, ingesttest.Source(typ, verifyKey, "inbox")); err != nil {
				t.Fatal(err)
			}
			send := func(secret string) (string, string, error) {
				args := []string{"send", name, "--url", n.HTTPURL, "--token", n.AdminToken,
					"--provider", typ, "--secret", secret, "--data", string(ingesttest.Body(typ))}
				if typ == ingest.TypeHMAC {
					args = append(args, "--sig-header", ingesttest.HMACHeader)
				}
				var stdout, stderr bytes.Buffer
				err := Run(ctx, args, &stdout, &stderr)
				return stdout.String(), stderr.String(), err
			}
			out, errOut, err := send(signKey)
			if err != nil || !strings.HasPrefix(out, "202 ") {
				t.Fatalf("send --provider %s: %v\nstdout: %s\nstderr: %s", typ, err, out, errOut)
			}
			if typ == ingest.TypeNone || typ == ingest.TypeDiscord || typ == ingest.TypeSendGrid {
				return // no secret to get wrong / the key pair is random per call
			}
			wrong := "wrong-" + signKey
			if typ == ingest.TypeBasic {
				wrong = "u:wrong"
			} else if strings.HasPrefix(signKey, "whsec_") {
				wrong = "whsec_d3Jvbmcta2V5LWJ5dGVz"
			}
			if _, _, err := send(wrong); err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("send --provider %s with a wrong secret: err %v, want a 401", typ, err)
			}
		})
	}
}
