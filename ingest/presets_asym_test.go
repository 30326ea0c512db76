package ingest

import "testing"

// asymmetricTestKeys maps an asymmetric preset to {private key for Sign,
// public key for the source}.
func asymmetricTestKeys(t *testing.T) map[string][2]string {
	t.Helper()
	return map[string][2]string{}
}
