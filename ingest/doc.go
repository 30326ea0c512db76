// Package ingest owns what hookq decides about an incoming webhook before
// anything is stored: provider signature verification (token, basic, hmac,
// github, stripe, shopify, slack, standard webhooks), replay windows,
// handshakes (Slack url_verification), provider event ids, dedup-key
// extraction, and the validation and defaults of a source's configuration
// (docs/API.md §4). It also exports Sign, the matching signer used by tests and
// the load generator.
//
// Everything here is a pure function of (config, headers, raw body, now).
// The package must never import anything outside the standard library, touch
// storage or the network, read the clock or randomness, log, or put a secret
// or a request body into an error message.
package ingest
