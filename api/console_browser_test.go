package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookq/hookq/ingest"
)

// findChromium is the headless browser of the console test: Debian's
// chromium (apt-get install -y chromium) or another Chrome on PATH.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: the console browser test must run under CI (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH: skipping the console browser test (apt-get install -y chromium to run it)")
	return ""
}

// artifactDir is where the test writes its screenshots: $HOOKQ_ARTIFACTS
// when set, else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("HOOKQ_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestConsoleInABrowser drives the console in headless chromium: log in,
// watch a queue's count change as webhooks arrive, open a message, replay
// it and see the replay arrive, send a test webhook from the sources page
// and see it queued, create a github source through the source form (a
// refusal first, shown with its code), send it a test webhook, edit and
// delete it, and look at the cluster. It saves screenshots
// (HOOKQ_UPDATE_SCREENSHOT=1 also refreshes docs/console.png).
func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chrome := findChromium(t)
	e := newRaftEnv(t)
	e.queue("orders")
	v := ingest.VerifyConfig{Type: "github", Secrets: []string{"gh-console-secret"}}
	e.source("shop", ingest.SourceConfig{Queues: []string{"orders"}, Verify: v})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	dir := artifactDir(t)
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.CaptureScreenshot(&png).Do(ctx); err != nil {
				return err
			}
			path := filepath.Join(dir, name)
			t.Logf("screenshot %s", path)
			return os.WriteFile(path, png, 0o600)
		})
	}
	fullShot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			path := filepath.Join(dir, name)
			t.Logf("screenshot %s", path)
			return os.WriteFile(path, png, 0o600)
		})
	}
	// until waits for a JS expression to be true.
	until := func(expr string) chromedp.Action {
		return chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// 1. Log in.
	run("log in",
		chromedp.Navigate(e.srv.URL+"/ui/"),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.SendKeys("#token", adminToken, chromedp.ByQuery),
		chromedp.Click("#login-button", chromedp.ByQuery),
		chromedp.WaitVisible(`tr[data-queue="orders"]`, chromedp.ByQuery),
		until(`document.querySelector('tr[data-queue="orders"] .c-ready').textContent === '0'`),
	)

	// 2. Webhooks arrive; the queue's ready count follows.
	var ids []string
	for i := range 3 {
		body := []byte(fmt.Sprintf(`{"order":{"id":%d,"total":"19.90"},"event":"order.created"}`, 1000+i))
		h := hookSign(t, v, "gh-console-secret", body, time.Now(), fmt.Sprintf("d-%d", i))
		h.Set("Content-Type", "application/json")
		resp, out := e.hookPost("shop", "", body, h)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("webhook %d: %d %s", i, resp.StatusCode, out)
		}
		ids = append(ids, e.hookCheckReply(resp, out, false).MessageID)
	}
	bad := []byte(`{"forged":true}`)
	if resp, out := e.hookPost("shop", "", bad, hookSign(t, v, "not-the-secret", bad, time.Now(), "d-x")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged webhook: %d %s", resp.StatusCode, out)
	}
	run("queue count changes",
		until(`document.querySelector('tr[data-queue="orders"] .c-ready').textContent === '3'`),
		shot("console-queues.png"),
	)

	// A consumer took the first message once and nacked it: its delivery
	// history has one entry.
	ds := e.admLease("orders", 1, time.Minute)
	if len(ds) != 1 || ds[0].Message.ID != ids[0] {
		t.Fatalf("leased %+v, want %s", ds, ids[0])
	}
	e.admSettle("orders", admNack(ds[0].DeliveryID, 0))

	// 3. Open a message from the queue's browser.
	first := ids[0]
	var body, headers string
	run("open a message",
		chromedp.Click(`tr[data-queue="orders"] a`, chromedp.ByQuery),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-message-id="%s"]`, first), chromedp.ByQuery),
		chromedp.Click(fmt.Sprintf(`tr[data-message-id="%s"]`, first), chromedp.ByQuery),
		until(`document.querySelector('#message-body').textContent.includes('"order"')`),
		chromedp.Text("#message-body", &body, chromedp.ByQuery),
		chromedp.Text("#message-headers", &headers, chromedp.ByQuery),
		until(`document.querySelector('#message-deliveries tbody').textContent.includes('nack')`),
		fullShot("console-message.png"),
	)
	if !strings.Contains(body, "\"id\": 1000") || !strings.Contains(body, "\n") {
		t.Fatalf("message body is not the pretty-printed payload:\n%s", body)
	}
	if !strings.Contains(headers, "X-Github-Delivery") || !strings.Contains(headers, "d-0") {
		t.Fatalf("message headers:\n%s", headers)
	}

	// 4. Replay it (confirm); the replay arrives in the list.
	run("replay",
		chromedp.Click("#message-replay", chromedp.ByQuery),
		chromedp.WaitVisible("#confirm-yes", chromedp.ByQuery),
		chromedp.Click("#confirm-yes", chromedp.ByQuery),
		until(fmt.Sprintf(`[...document.querySelectorAll('#messages-table .c-replay-of')].some(td => td.textContent === '%s')`, first)),
	)
	msgs, _, err := e.b.Messages("orders", "", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	replays := 0
	for _, m := range msgs {
		if m.ReplayOf == first {
			replays++
		}
	}
	if len(msgs) != 4 || replays != 1 {
		t.Fatalf("orders holds %d messages, %d replays of %s; want 4 and 1", len(msgs), replays, first)
	}

	// 5. Send a test webhook from the sources page; it is queued.
	var testID string
	var ok bool
	run("send a test webhook",
		chromedp.Click("#nav-sources", chromedp.ByQuery),
		chromedp.WaitVisible(`button[data-test-source="shop"]`, chromedp.ByQuery),
		until(`document.querySelector('tr[data-source="shop"] .c-rejections').textContent.includes('mismatch × 1')`),
		chromedp.Click(`button[data-test-source="shop"]`, chromedp.ByQuery),
		until(`document.querySelector('#source-test-result').hasAttribute('data-message-id')`),
		chromedp.AttributeValue("#source-test-result", "data-message-id", &testID, &ok, chromedp.ByQuery),
		shot("console-sources.png"),
	)
	m, payload, err := e.b.Message("orders", testID)
	if err != nil {
		t.Fatalf("test webhook %q is not in orders: %v", testID, err)
	}
	if m.Source != "shop" || !strings.Contains(string(payload), `"type":"hookq.test"`) {
		t.Fatalf("test webhook stored as %+v %s", m, payload)
	}
	run("queue shows the test webhook",
		chromedp.Click("#nav-queues", chromedp.ByQuery),
		until(`document.querySelector('tr[data-queue="orders"] .c-ready').textContent === '5'`),
	)

	// 6. Create a source through the form with a preset. Without its
	// secret the API refuses it, and the form shows the error code.
	setType := func(typ string) chromedp.Action {
		return chromedp.Evaluate(fmt.Sprintf(`(() => { const s = document.querySelector('#sf-type'); s.value = %q; s.dispatchEvent(new Event('change')); return s.value; })()`, typ), nil)
	}
	run("source form refuses a github source without a secret",
		chromedp.Click("#nav-sources", chromedp.ByQuery),
		chromedp.WaitVisible(`button[data-test-source="shop"]`, chromedp.ByQuery),
		chromedp.Click("#source-new", chromedp.ByQuery),
		chromedp.WaitVisible("#sf-name", chromedp.ByQuery),
		until(fmt.Sprintf(`document.querySelectorAll('#sf-type option').length === %d`, len(ingest.Types()))),
		chromedp.SendKeys("#sf-name", "gh", chromedp.ByQuery),
		chromedp.Click(`#sf-queues input[data-queue="orders"]`, chromedp.ByQuery),
		setType("hmac"),
		until(`!document.querySelector('.row[data-field="header"]').hidden && document.querySelector('.row[data-field="tolerance"]').hidden`),
		setType("stripe"),
		until(`document.querySelector('.row[data-field="header"]').hidden && !document.querySelector('.row[data-field="tolerance"]').hidden`),
		setType("github"),
		until(`document.querySelector('.row[data-field="header"]').hidden && document.querySelector('.row[data-field="tolerance"]').hidden`),
		until(`document.querySelector('#sf-hint').textContent.includes('Settings → Webhooks → Secret')`),
		until(`document.querySelector('#sf-url').textContent.endsWith('/hooks/gh')`),
		chromedp.Click("#sf-save", chromedp.ByQuery),
		until(`document.querySelector('#sf-error').textContent.startsWith('bad_request: ') && document.querySelector('#sf-error').textContent.includes('verify.secrets')`),
	)
	if _, err := e.b.Source("gh"); err == nil {
		t.Fatal("source gh exists after a refused PUT")
	}
	run("source form creates a github source",
		chromedp.SendKeys("#sf-secrets", "gh-form-secret", chromedp.ByQuery),
		fullShot("console-source-form.png"),
		chromedp.Click("#sf-save", chromedp.ByQuery),
		chromedp.WaitVisible(`button[data-test-source="gh"]`, chromedp.ByQuery),
		until(`document.querySelector('#source-form').hidden`),
	)
	gh, err := e.b.Source("gh")
	if err != nil {
		t.Fatalf("source gh: %v", err)
	}
	if gh.Verify.Type != "github" || len(gh.Verify.Secrets) != 1 || gh.Verify.Secrets[0] != "gh-form-secret" || len(gh.Queues) != 1 || gh.Queues[0] != "orders" {
		t.Fatalf("source gh stored as %+v", gh.SourceConfig)
	}
	// Its test webhook is signed with the secret typed in the form and queued.
	run("send a test webhook to the new source",
		chromedp.Evaluate(`document.querySelector('#source-test-result').removeAttribute('data-message-id')`, nil),
		chromedp.Click(`button[data-test-source="gh"]`, chromedp.ByQuery),
		until(`document.querySelector('#source-test-result').hasAttribute('data-message-id')`),
		chromedp.AttributeValue("#source-test-result", "data-message-id", &testID, &ok, chromedp.ByQuery),
	)
	m, payload, err = e.b.Message("orders", testID)
	if err != nil {
		t.Fatalf("test webhook %q of gh is not in orders: %v", testID, err)
	}
	if m.Source != "gh" || !strings.Contains(string(payload), `"source":"gh"`) {
		t.Fatalf("test webhook of gh stored as %+v %s", m, payload)
	}

	// 7. Edit it: the form says secrets are write-only and asks for them
	// again; the new secret replaces the old one.
	run("edit the source",
		chromedp.Click(`button[data-edit-source="gh"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#sf-secrets", chromedp.ByQuery),
		until(`document.querySelector('#sf-secrets-note').textContent.includes('write-only') && document.querySelector('#sf-name').readOnly`),
		until(`document.querySelector('#sf-type').value === 'github' && document.querySelector('#sf-secrets').value === ''`),
		chromedp.SendKeys("#sf-secrets", "gh-rotated", chromedp.ByQuery),
		chromedp.SetValue("#sf-dedup-window", "2h", chromedp.ByQuery),
		chromedp.Click("#sf-save", chromedp.ByQuery),
		until(`document.querySelector('#source-form').hidden`),
		until(`document.querySelector('tr[data-source="gh"]').textContent.includes('provider / 2h')`),
	)
	if gh, err = e.b.Source("gh"); err != nil || len(gh.Verify.Secrets) != 1 || gh.Verify.Secrets[0] != "gh-rotated" || gh.Dedup.Window != 2*time.Hour {
		t.Fatalf("source gh after the edit: %+v, %v", gh.SourceConfig, err)
	}

	// 8. Delete it, after a confirmation (Cancel keeps it).
	run("cancel the delete",
		chromedp.Click(`button[data-delete-source="gh"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#confirm-no", chromedp.ByQuery),
		chromedp.Click("#confirm-no", chromedp.ByQuery),
	)
	if _, err := e.b.Source("gh"); err != nil {
		t.Fatalf("source gh gone after Cancel: %v", err)
	}
	run("delete the source",
		chromedp.Click(`button[data-delete-source="gh"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#confirm-yes", chromedp.ByQuery),
		chromedp.Click("#confirm-yes", chromedp.ByQuery),
		until(`!document.querySelector('tr[data-source="gh"]') && document.querySelector('#status').textContent === 'source gh deleted'`),
	)
	if _, err := e.b.Source("gh"); err == nil {
		t.Fatal("source gh still exists after Delete")
	}

	// The cluster view names this node as leader.
	run("cluster view",
		chromedp.Click("#nav-cluster", chromedp.ByQuery),
		chromedp.WaitVisible(`tr[data-node="n1"]`, chromedp.ByQuery),
		until(`document.querySelector('#cluster-leader').textContent === 'n1'`),
		shot("console-cluster.png"),
	)

	// The README's screenshot: the message view.
	if os.Getenv("HOOKQ_UPDATE_SCREENSHOT") == "1" {
		png, err := os.ReadFile(filepath.Join(dir, "console-message.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "console.png"), png, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
