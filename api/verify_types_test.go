package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/ingest"
)

// TestVerifyTypesEndpointListsEveryType: GET /v1/verify-types, which the
// console's source form is built from, lists exactly ingest.Types() in
// order, each with the fields VerifyFields names, whether secrets are
// required, and a hint; the hint table names no type ingest does not know.
// It needs an admin token.
func TestVerifyTypesEndpointListsEveryType(t *testing.T) {
	e := newEnv(t)
	if resp, _ := e.do("GET", "/v1/verify-types", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v1/verify-types without a token: %d, want 401", resp.StatusCode)
	}
	resp, body := e.do("GET", "/v1/verify-types", adminToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/verify-types: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Types []struct {
			Type            string   `json:"type"`
			Fields          []string `json:"fields"`
			SecretsRequired *bool    `json:"secretsRequired"`
			Hint            string   `json:"hint"`
		} `json:"types"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var got []string
	for _, vt := range out.Types {
		got = append(got, vt.Type)
		want := ingest.VerifyFields(vt.Type)
		if want == nil {
			want = []string{}
		}
		if vt.Fields == nil || !slices.Equal(vt.Fields, want) {
			t.Errorf("%s: fields %v, want %v", vt.Type, vt.Fields, want)
		}
		if vt.SecretsRequired == nil || *vt.SecretsRequired != ingest.RequiresSecrets(vt.Type) {
			t.Errorf("%s: secretsRequired %v, want %v", vt.Type, vt.SecretsRequired, ingest.RequiresSecrets(vt.Type))
		}
		if strings.TrimSpace(vt.Hint) == "" {
			t.Errorf("%s: no hint", vt.Type)
		}
	}
	if !slices.Equal(got, ingest.Types()) {
		t.Fatalf("console types %v\nwant ingest.Types() %v", got, ingest.Types())
	}
	for _, k := range api.VerifyTypeHintKeys() {
		if !slices.Contains(ingest.Types(), k) {
			t.Errorf("hint for unknown verify.type %q", k)
		}
	}
	// The hints that name a secret's form agree with what Normalize wants.
	for typ, want := range map[string]string{"basic": "user:password", "standard": "whsec_", "meta": "verify_token:"} {
		for _, vt := range out.Types {
			if vt.Type == typ && !strings.Contains(vt.Hint, want) {
				t.Errorf("%s hint %q does not mention %q", typ, vt.Hint, want)
			}
		}
	}
}

// TestConsoleHasNoTypeListOfItsOwn: the console builds its verify.type
// select from GET /v1/verify-types, so it cannot miss a type or list an
// unknown one; a provider type written into its source would be a second
// list that can drift.
func TestConsoleHasNoTypeListOfItsOwn(t *testing.T) {
	generic := []string{ingest.TypeNone, ingest.TypeToken, ingest.TypeBasic, ingest.TypeHMAC, ingest.TypeStandard}
	for _, f := range []string{"ui/app.js", "ui/index.html"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range ingest.Types() {
			if slices.Contains(generic, typ) {
				continue
			}
			for _, q := range []string{"'", `"`, "`"} {
				if strings.Contains(string(src), q+typ+q) {
					t.Errorf("%s names verify.type %s%s%s: take it from /v1/verify-types", f, q, typ, q)
				}
			}
		}
		if f == "ui/app.js" && !strings.Contains(string(src), "'/v1/verify-types'") {
			t.Errorf("%s does not fetch /v1/verify-types", f)
		}
	}
}

// TestOpenAPIVerifyTypeEnumIsIngestTypes: docs/openapi.yaml's VerifyType
// enum is exactly ingest.Types().
func TestOpenAPIVerifyTypeEnumIsIngestTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	ref, ok := doc.Components.Schemas["VerifyType"]
	if !ok || ref.Value == nil {
		t.Fatal("no VerifyType schema")
	}
	var got []string
	for _, v := range ref.Value.Enum {
		got = append(got, v.(string))
	}
	if !slices.Equal(got, ingest.Types()) {
		t.Fatalf("VerifyType enum %v\nwant ingest.Types() %v", got, ingest.Types())
	}
}
