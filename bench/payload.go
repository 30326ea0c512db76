package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hookq/hookq/ingest"
)

// A body is JSON of exactly the requested size:
//
//	{"id":"<run>-<seq>","type":"bench.event","sentAt":<unix ns>,"pad":"xx…"}
//
// id is also the provider event id (so sources de-duplicate on it, as they
// would on real traffic), and sentAt, zero-padded to 19 digits, is when the
// send was due, for end-to-end latency.
const (
	bodyHead   = `{"id":"`
	bodyMid    = `","type":"bench.event","sentAt":`
	bodyPad    = `,"pad":"`
	bodyTail   = `"}`
	runIDLen   = 16 // hex characters
	seqDigits  = 12
	eventIDLen = runIDLen + 1 + seqDigits
	sentDigits = 19
	sentKey    = `"sentAt":`

	minBodySize = len(bodyHead) + eventIDLen + len(bodyMid) + sentDigits + len(bodyPad) + len(bodyTail)
)

// newRunID is 16 random hex characters, so that event ids of separate runs
// never collide in a source's dedup window.
func newRunID() string {
	var b [runIDLen / 2]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// eventID is the provider event id of message seq of a run.
func eventID(run string, seq int64) string {
	return fmt.Sprintf("%s-%0*d", run, seqDigits, seq)
}

// buildBody returns a body of size bytes (size ≥ minBodySize).
func buildBody(size int, id string, due time.Time) []byte {
	b := make([]byte, 0, size)
	b = append(b, bodyHead...)
	b = append(b, id...)
	b = append(b, bodyMid...)
	ns := strconv.FormatInt(due.UnixNano(), 10)
	for range sentDigits - len(ns) {
		b = append(b, '0')
	}
	b = append(b, ns...)
	b = append(b, bodyPad...)
	for len(b) < size-len(bodyTail) {
		b = append(b, 'x')
	}
	return append(b, bodyTail...)
}

// sentAt reads the due time a body was built with.
func sentAt(body []byte) (time.Time, bool) {
	i := bytes.Index(body, []byte(sentKey))
	if i < 0 || len(body) < i+len(sentKey)+sentDigits {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(string(body[i+len(sentKey):i+len(sentKey)+sentDigits]), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// signer signs bodies the way provider would, with ingest.Sign.
type signer struct {
	cfg    ingest.SourceConfig
	secret string
}

func newSigner(provider, secret string) (*signer, error) {
	s := &signer{cfg: ingest.SourceConfig{Verify: ingest.VerifyConfig{Type: provider}}, secret: secret}
	// Sign once so a bad secret shows up before the run.
	if _, err := s.sign([]byte(`{}`), time.Now(), "check"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *signer) sign(body []byte, now time.Time, eventID string) (http.Header, error) {
	h, err := ingest.Sign(&s.cfg, s.secret, body, now, eventID)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return h, nil
}

// NewSecret returns a fresh random secret in the form provider uses
// ("" for none).
func NewSecret(provider string) string {
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	switch provider {
	case ingest.TypeStandard:
		return "whsec_" + base64.StdEncoding.EncodeToString(key)
	case ingest.TypeStripe:
		return "whsec_" + hex.EncodeToString(key)
	case ingest.TypeNone:
		return ""
	}
	return hex.EncodeToString(key)
}
