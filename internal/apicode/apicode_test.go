package apicode

import (
	"testing"

	"google.golang.org/grpc/codes"
)

func TestOf(t *testing.T) {
	cases := []struct {
		code string
		want Status
		ok   bool
	}{
		{LeaseExpired, Status{409, codes.FailedPrecondition}, true},
		{QueueFull, Status{503, codes.ResourceExhausted}, true},
		{PayloadTooLarge, Status{413, codes.ResourceExhausted}, true},
		{SignatureInvalid, Status{401, codes.Unauthenticated}, true},
		{"no_such_code", Status{500, codes.Internal}, false},
	}
	for _, c := range cases {
		got, ok := Of(c.code)
		if got != c.want || ok != c.ok {
			t.Errorf("Of(%q) = %v, %v; want %v, %v", c.code, got, ok, c.want, c.ok)
		}
	}
}
