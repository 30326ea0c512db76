package cluster

import (
	"fmt"
	"net"
	"strings"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/broker"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Roles a node record can have.
const (
	RoleVoter  = "voter"
	RoleIngest = "ingest"
)

// Node is one node's identity and advertised addresses: the domain form
// of the replicated node record (pb.NodeRecord). Every other shape of a
// node (the heartbeat's, a Raft server, the cluster view's broker.NodeInfo,
// the Info answer's pb.NodeStatus) converts from or to it here, and
// nowhere else.
type Node struct {
	ID, RaftAddr, HTTPAddr, GRPCAddr string
	Role                             string // RoleVoter | RoleIngest
	Version                          string // the node's release (hookq version)
}

func nodeOf(r *pb.NodeRecord) Node {
	return Node{ID: r.GetId(), RaftAddr: r.GetRaftAddr(), HTTPAddr: r.GetHttpAddr(), GRPCAddr: r.GetGrpcAddr(), Role: r.GetRole(), Version: r.GetVersion()}
}

func (n Node) record() *pb.NodeRecord {
	return &pb.NodeRecord{Id: n.ID, RaftAddr: n.RaftAddr, HttpAddr: n.HTTPAddr, GrpcAddr: n.GRPCAddr, Role: n.Role, Version: n.Version}
}

// info is n in the cluster view, with its status.
func (n Node) info(suffrage string) broker.NodeInfo {
	return broker.NodeInfo{ID: n.ID, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr, GRPCAddr: n.GRPCAddr, Role: n.Role, Suffrage: suffrage, Version: n.Version}
}

// serverNode is a Raft server as a node (its other addresses come from its
// record).
func serverNode(s raft.Server) (Node, string) {
	suffrage := "voter"
	if s.Suffrage != raft.Voter {
		suffrage = "nonvoter"
	}
	return Node{ID: string(s.ID), RaftAddr: string(s.Address), Role: RoleVoter}, suffrage
}

func statusOf(n broker.NodeInfo) *pb.NodeStatus {
	return &pb.NodeStatus{
		Node:     Node{ID: n.ID, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr, GRPCAddr: n.GRPCAddr, Role: n.Role, Version: n.Version}.record(),
		Suffrage: n.Suffrage, Healthy: n.Healthy, AppliedIndex: n.AppliedIndex,
	}
}

func infoOfStatus(s *pb.NodeStatus) broker.NodeInfo {
	n := nodeOf(s.GetNode()).info(s.GetSuffrage())
	n.Healthy, n.AppliedIndex = s.GetHealthy(), s.GetAppliedIndex()
	return n
}

// validate is the one check of a node that joins or runs: it needs an id,
// and a voter a Raft address.
func (n Node) validate() error {
	if n.ID == "" {
		return fmt.Errorf("%w: a node needs an id", broker.ErrBadRequest)
	}
	if n.Role != RoleIngest && n.RaftAddr == "" {
		return fmt.Errorf("%w: a voter needs id and raftAddr", broker.ErrBadRequest)
	}
	return nil
}

// ValidateJoin is the one check of a join request's node (POST
// /v1/cluster/join, Member.Join, and again on the leader for a forwarded
// join): id and Raft address present, fields valid, addresses host:port
// (broker.ValidateJoin).
func ValidateJoin(n Node) error {
	return broker.ValidateJoin(n.record())
}

// ParseSeeds is the one parser of --seeds: comma-separated http(s) URLs
// of cluster nodes; with mtls every one must be https:// (the scheme is
// how a node knows a peer's mode, and a node configured for mutual TLS
// never talks to a peer in plaintext).
func ParseSeeds(s string, mtls bool) ([]string, error) {
	var seeds []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			seeds = append(seeds, u)
		}
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("--role ingest needs --seeds")
	}
	if err := CheckPeerURLs("--seeds", mtls, seeds...); err != nil {
		return nil, err
	}
	return seeds, nil
}

// CheckPeerURLs refuses, with mutual TLS configured, a --join or --seeds
// URL that is not https://. (--peers lists Raft addresses, which carry no
// scheme: the Raft transport of a node with cluster certificates speaks
// only mutual TLS, so a plaintext peer fails the handshake.)
func CheckPeerURLs(flagName string, mtls bool, urls ...string) error {
	if !mtls {
		return nil
	}
	for _, u := range urls {
		if u != "" && !strings.HasPrefix(strings.ToLower(u), "https://") {
			return fmt.Errorf("%s %q: mutual TLS is configured (--cluster-ca), so peers must be given as https:// URLs; refusing to talk to a peer in plaintext", flagName, u)
		}
	}
	return nil
}

// ParsePeers parses --peers: id=host:port,... (the initial voters).
func ParsePeers(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("--peers: %q is not id=host:port", p)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--peers: %q: %v", p, err)
		}
		out[id] = addr
	}
	return out, nil
}
