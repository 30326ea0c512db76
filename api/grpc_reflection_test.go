package api_test

import (
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	refl "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// TestGRPCReflectionHidesInternalService: reflection, open to any valid
// token, describes the public services but not the node-to-node one:
// asking for its symbol or its file answers an error, not its descriptor.
func TestGRPCReflectionHidesInternalService(t *testing.T) {
	e := newGRPCEnv(t)
	tok := e.Token(t, "reader", "consume:q")
	rc := refl.NewServerReflectionClient(e.conn)
	st, err := rc.ServerReflectionInfo(asT(t, tok, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *refl.ServerReflectionRequest) *refl.ServerReflectionResponse {
		t.Helper()
		if err := st.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	internalFile := pb.File_raftcmd_cluster_proto.Path()
	for name, req := range map[string]*refl.ServerReflectionRequest{
		"symbol " + pb.Cluster_ServiceDesc.ServiceName: {MessageRequest: &refl.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: pb.Cluster_ServiceDesc.ServiceName}},
		"symbol hookq.raftcmd.ProposeRequest":          {MessageRequest: &refl.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "hookq.raftcmd.ProposeRequest"}},
		"file " + internalFile:                         {MessageRequest: &refl.ServerReflectionRequest_FileByFilename{FileByFilename: internalFile}},
	} {
		resp := ask(req)
		if fds := resp.GetFileDescriptorResponse().GetFileDescriptorProto(); len(fds) > 0 {
			t.Errorf("%s: reflection answered %d file descriptors of the internal service", name, len(fds))
		}
		if resp.GetErrorResponse() == nil {
			t.Errorf("%s: no error response", name)
		}
	}
	// The public services still resolve.
	for _, sym := range []string{"hookq.v1.Consumer", "hookq.v1.Publisher", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		resp := ask(&refl.ServerReflectionRequest{MessageRequest: &refl.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: sym}})
		if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("%s does not resolve: %v", sym, resp)
		}
	}
}
