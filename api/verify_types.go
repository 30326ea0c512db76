package api

import (
	"net/http"

	"github.com/hookq/hookq/ingest"
)

// verifyTypeJSON is one entry of GET /v1/verify-types: what a form needs
// to build a source of that type.
type verifyTypeJSON struct {
	Type            string   `json:"type"`
	Fields          []string `json:"fields"`
	SecretsRequired bool     `json:"secretsRequired"`
	Hint            string   `json:"hint"`
}

// verifyTypeHints: where each provider shows the secret, and its form when
// it has one (docs/SOURCES.md). TestVerifyTypesEndpoint holds the keys to
// ingest.Types().
var verifyTypeHints = map[string]string{
	ingest.TypeNone:     "No check: anyone who knows the URL can post. Secrets are not used.",
	ingest.TypeToken:    "A shared token you choose; the sender puts it in X-Webhook-Token, or else in ?token=.",
	ingest.TypeBasic:    "HTTP Basic credentials, each secret written user:password.",
	ingest.TypeHMAC:     "Any HMAC of the raw body in one header: name the header, algorithm, encoding and an optional prefix such as sha256=.",
	ingest.TypeStandard: "A Standard Webhooks sender (standardwebhooks.com). Secret: whsec_<base64>.",

	ingest.TypeGitHub:       "Repository or organization → Settings → Webhooks → Secret.",
	ingest.TypeStripe:       "Dashboard → Developers → Webhooks → endpoint → Signing secret (whsec_…, used as is).",
	ingest.TypeShopify:      "The app's client secret (Partner dashboard → app → Client credentials), or Settings → Notifications → Webhooks.",
	ingest.TypeSlack:        "api.slack.com/apps → app → Basic Information → Signing Secret.",
	ingest.TypeSvix:         "The endpoint's Signing Secret in the application's Svix portal (whsec_…).",
	ingest.TypeResend:       "Resend dashboard → Webhooks → the endpoint → Signing secret (whsec_…).",
	ingest.TypeClerk:        "Clerk dashboard → Configure → Webhooks → endpoint → Signing Secret (whsec_…).",
	ingest.TypeGitLab:       "Project → Settings → Webhooks → Secret token (any string you choose; give GitLab the same).",
	ingest.TypeGitea:        "Repository → Settings → Webhooks → Secret.",
	ingest.TypeBitbucket:    "Bitbucket Cloud: repository settings → Webhooks → Secret.",
	ingest.TypeIntercom:     "Developer Hub → your app → Basic information → Client secret.",
	ingest.TypeSegment:      "The Webhooks destination's settings → Shared Secret.",
	ingest.TypeVercel:       "Team Settings → Webhooks → the webhook's secret (or the integration's Client Secret).",
	ingest.TypeSentry:       "Settings → Developer Settings → your integration → Client Secret.",
	ingest.TypeLemonSqueezy: "Settings → Webhooks → the webhook's Signing secret.",
	ingest.TypeWooCommerce:  "WooCommerce → Settings → Advanced → Webhooks → Secret.",
	ingest.TypeRazorpay:     "Dashboard → Account & Settings → Webhooks → Secret.",
	ingest.TypeTypeform:     "The secret you set on the webhook (Connect → Webhooks, or the Webhooks API).",
	ingest.TypeLaunchDarkly: "Integrations → Webhooks → Sign this webhook → the secret shown.",
	ingest.TypePagerDuty:    "Integrations → Generic Webhooks (v3) → subscription → Signing secret (shown once).",
	ingest.TypeCircleCI:     "Project Settings → Webhooks → Secret token.",
	ingest.TypeDocuSign:     "Settings → Connect → Connect Keys (HMAC key), with Include HMAC Signature on.",
	ingest.TypePaddle:       "Paddle Billing: Developer Tools → Notifications → destination → Secret key (pdl_ntfset_…).",
	ingest.TypeCalendly:     "The signing_key you give when creating the webhook subscription (API).",
	ingest.TypeMux:          "Settings → Webhooks → the webhook's Signing Secret.",
	ingest.TypeZendesk:      "Admin Center → Apps and integrations → Webhooks → webhook → Signing secret.",
	ingest.TypeLinear:       "Settings → API → Webhooks → the webhook's Signing secret.",
	ingest.TypeHubSpot:      "The app's Client secret (developer account → app → Auth). Give HubSpot exactly the URL hookq is reached at.",
	ingest.TypeSquare:       "Developer Dashboard → app → Webhooks → subscription → Signature key. The registered URL must be the one hookq sees.",
	ingest.TypeTwilio:       "Console → Account Info → Auth Token. Configure the webhook as HTTP POST.",
	ingest.TypeMailgun:      "Sending → Webhooks → HTTP webhook signing key.",
	ingest.TypeDiscord:      "Developer Portal → application → General Information → Public Key (64 hex digits). Test webhooks cannot be sent for it.",
	ingest.TypeSendGrid:     "Settings → Mail Settings → Event Webhook → Signature Verification → verification key (base64 public key). Test webhooks cannot be sent for it.",
	ingest.TypeMeta:         "Two secrets: the App Secret (App Dashboard → App settings → Basic) and the verify token you choose, written verify_token:<token>.",
	ingest.TypeZoom:         "Marketplace → your app → Feature → Event Subscriptions → Secret Token.",
	ingest.TypeTwitch:       "EventSub: the secret you give when creating the subscription.",
	ingest.TypeDropbox:      "App Console → app → Settings → App secret.",
	ingest.TypeOkta:         "The exact Authentication secret value set on the event hook (Workflow → Event Hooks).",
	ingest.TypeMSGraph:      "The clientState you set when creating the Graph subscription.",
	ingest.TypeAsana:        "Leave secrets empty: Asana's handshake hands hookq the secret, which is stored. Empty them again to re-register.",
	ingest.TypeNetlify:      "Site configuration → Notifications → the outgoing webhook's JWS secret token.",
}

// handleVerifyTypes: GET /v1/verify-types → {"types":[{"type","fields",
// "secretsRequired","hint"}]}, every verify.type in ingest.Types() order
// (docs/API.md §7.2). The console's source form is built from it.
func (s *Server) handleVerifyTypes(w http.ResponseWriter, _ *http.Request) {
	types := ingest.Types()
	out := struct {
		Types []verifyTypeJSON `json:"types"`
	}{Types: make([]verifyTypeJSON, 0, len(types))}
	for _, t := range types {
		fields := ingest.VerifyFields(t)
		if fields == nil {
			fields = []string{}
		}
		out.Types = append(out.Types, verifyTypeJSON{Type: t, Fields: fields, SecretsRequired: ingest.RequiresSecrets(t), Hint: verifyTypeHints[t]})
	}
	writeJSON(w, http.StatusOK, out)
}
