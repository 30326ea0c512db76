package ingest

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"
	"github.com/PagerDuty/go-pagerduty/webhookv3"
	razorpay "github.com/razorpay/razorpay-go/utils"
)

// More vectors from, and cross-checks against, official Go SDKs.

// go-pagerduty webhookv3's test vector (webhookv3/webhookv3_test.go).
const (
	pagerDutySDKSecret = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK" // #nosec G101 -- a published test vector
	pagerDutySDKSig    = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
	pagerDutySDKBody   = `{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}`
)

func TestPagerDutySDKVectorIsAccepted(t *testing.T) {
	cfg := presetCfg(t, "pagerduty", pagerDutySDKSecret)
	res, err := Verify(cfg, Request{Header: hdr("X-PagerDuty-Signature", pagerDutySDKSig), Body: []byte(pagerDutySDKBody)}, testNow)
	if err != nil || res.EventID != "01BWDWL3NYY7LUFPZCC28QUCMK" {
		t.Fatalf("go-pagerduty's vector: %+v, %v", res, err)
	}
	// The SDK's "mismatch" signature is refused.
	_, err = Verify(cfg, Request{Header: hdr("X-PagerDuty-Signature", "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5"), Body: []byte(pagerDutySDKBody)}, testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
}

func TestPagerDutySDKValidatesOurSignature(t *testing.T) {
	body := []byte(`{"event":{"id":"pd-ours","event_type":"incident.triggered"}}`)
	h, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "pagerduty"}}, "pd-secret", body, testNow, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/pd", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header = h
	if err := webhookv3.VerifySignature(r, "pd-secret"); err != nil {
		t.Fatalf("go-pagerduty refused our signature: %v", err)
	}
}

// razorpay-go's webhook test vector (resources/verify_payment_test.go).
func TestRazorpaySDKVectorIsAccepted(t *testing.T) {
	const body = `{"entity":"event","account_id":"acc_HVFD0PFnHPAzKj","event":"payment.authorized","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_JUEM4c0pSLpFEW","entity":"payment","amount":12300,"currency":"INR","status":"authorized","order_id":"order_JUELuT6cFaHkvd","invoice_id":null,"international":false,"method":"netbanking","amount_refunded":0,"refund_status":null,"captured":false,"description":"#JUELZ1z1EC0pwi","card_id":null,"bank":"SBIN","wallet":null,"vpa":null,"email":"prathmesh.bijjargi@razorpay.com","contact":"+917411714931","notes":[],"fee":null,"tax":null,"error_code":null,"error_description":null,"error_source":null,"error_step":null,"error_reason":null,"acquirer_data":{"bank_transaction_id":"6416615"},"created_at":1652339804}}},"created_at":1652339806}`
	h := hdr("X-Razorpay-Signature", "ea962f3a2a8090aa14ef10fc178306edcb46ee7ccadae8afe2275cda26f3d2a6", "X-Razorpay-Event-Id", "rzp-evt-9")
	res, err := Verify(presetCfg(t, "razorpay", "123456"), Request{Header: h, Body: []byte(body)}, testNow)
	if err != nil || res.EventID != "rzp-evt-9" {
		t.Fatalf("razorpay-go's vector: %+v, %v", res, err)
	}
	_, err = Verify(presetCfg(t, "razorpay", "1234567"), Request{Header: h, Body: []byte(body)}, testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
}

func TestRazorpayAndGiteaSDKsValidateOurSignatures(t *testing.T) {
	body := []byte(`{"event":"payment.captured"}`)
	h, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "razorpay"}}, "rzp-secret", body, testNow, "")
	if err != nil {
		t.Fatal(err)
	}
	if !razorpay.VerifyWebhookSignature(string(body), h.Get("X-Razorpay-Signature"), "rzp-secret") {
		t.Fatal("razorpay-go refused our signature")
	}
	h, err = Sign(&SourceConfig{Verify: VerifyConfig{Type: "gitea"}}, "gitea-secret", body, testNow, "")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := gitea.VerifyWebhookSignature("gitea-secret", h.Get("X-Gitea-Signature"), body); err != nil || !ok {
		t.Fatalf("gitea SDK refused our signature: %v %v", ok, err)
	}
}

// TestSquareSDKVectorsAreAccepted: the vectors of square-go-sdk's
// webhooks/client/verify_signature_test.go (the module itself is not
// fetchable through the module proxy, so its vectors are copied here).
func TestSquareSDKVectorsAreAccepted(t *testing.T) {
	const (
		body = `{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}`
		sig  = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
		key  = "Ibxx_5AKakO-3qeNVR61Dw"
		u    = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
	)
	ok := []struct{ body, sig, key, url string }{
		{body, sig, key, u},
		{`{"data":{"type":"webhooks","id":"fake_id"}}`, "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA=", "signature-key", "https://webhook.site/webhooks"},
		{`{"data":{"type":"webhooks","id":">id<"}}`, "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=", "signature-key", "https://webhook.site/webhooks"},
	}
	for _, v := range ok {
		res, err := Verify(presetCfg(t, "square", v.key), Request{URL: v.url, Header: hdr("x-square-hmacsha256-signature", v.sig), Body: []byte(v.body)}, testNow)
		if err != nil {
			t.Fatalf("square-go-sdk's vector %s refused: %v", v.sig, err)
		}
		if v.body == body && res.EventID != "ac3ac95b-f97d-458c-a6e6-18981597e05f" {
			t.Fatalf("event id %q", res.EventID)
		}
	}
	bad := []struct{ body, sig, key, url string }{
		{body, sig, key, "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9"},
		{body, sig, "MCmhFRxGX82xMwg5FsaoQA", u},
		{strings.Replace(body, "2022-07-13", "2022-06-13", 1), sig, key, u},
		{body, "1z2n3DEJJiUPKcPzQo1ftvbxGdw=", key, u},
	}
	for _, v := range bad {
		_, err := Verify(presetCfg(t, "square", v.key), Request{URL: v.url, Header: hdr("x-square-hmacsha256-signature", v.sig), Body: []byte(v.body)}, testNow)
		checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
	}
}
