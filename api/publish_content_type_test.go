package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc/codes"
)

// TestPublishRefusesContentTypeNoHTTPHeaderCanCarry: a published
// message's content type comes back as the Content-Type of GET …/next, so
// one with control characters (NUL, DEL, CR LF, …) would make every REST
// consumer's response malformed while leasing the message each time. Both
// publish front ends refuse it (InvalidArgument, 400) and append nothing;
// a tab, spaces and non-ASCII text stay allowed.
func TestPublishRefusesContentTypeNoHTTPHeaderCanCarry(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "ct", nil)
	for _, ct := range []string{"text/plain\x01", "text/plain\x00", "a\x7f", "a\r\nX-Evil: 1", "a\nb"} {
		_, err := e.pub.Publish(asT(t, e.AdminToken, 5*time.Second), &hookqv1.PublishRequest{Queue: "ct", Messages: []*hookqv1.Message{
			{Body: []byte("fine")}, {Body: []byte("x"), ContentType: ct}}})
		wantCode(t, err, codes.InvalidArgument)

		body := []byte(`{"messages":[{"payload":"x","contentType":"` + jsonEscape(ct) + `"}]}`)
		req, _ := http.NewRequest(http.MethodPost, e.HTTPURL+"/v1/queues/ct/publish", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.AdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("REST publish with content type %q: %d, want 400", ct, res.StatusCode)
		}
	}
	if ds := e.lease("ct", 100, 0, 0); len(ds) != 0 {
		t.Fatalf("refused publishes appended %d messages", len(ds))
	}
	ok := "text/plain;\tcharset=utf-8 (é)"
	e.publishCT(t, "ct", ok)
	req, _ := http.NewRequest(http.MethodGet, e.HTTPURL+"/v1/queues/ct/next", nil)
	req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ok {
		t.Fatalf("next: %d %q, want 200 %q", res.StatusCode, res.Header.Get("Content-Type"), ok)
	}
}

func (e *grpcEnv) publishCT(t *testing.T, q, ct string) {
	t.Helper()
	if _, err := e.pub.Publish(asT(t, e.AdminToken, 5*time.Second), &hookqv1.PublishRequest{Queue: q, Messages: []*hookqv1.Message{{Body: []byte("y"), ContentType: ct}}}); err != nil {
		t.Fatalf("publish with content type %q: %v", ct, err)
	}
}

// jsonEscape writes the control characters of s as JSON escapes.
func jsonEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
