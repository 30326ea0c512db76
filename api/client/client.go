package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Transport selects how a Client talks to hookq.
type Transport int

const (
	// TransportAuto uses gRPC when Options.GRPCTargets is set, REST
	// otherwise.
	TransportAuto Transport = iota
	// TransportGRPC uses the gRPC API (Options.GRPCTargets is required).
	TransportGRPC
	// TransportREST uses the HTTP API (Options.HTTPURL is required).
	TransportREST
)

// String names the transport.
func (t Transport) String() string {
	switch t {
	case TransportGRPC:
		return "grpc"
	case TransportREST:
		return "rest"
	}
	return "auto"
}

// Options configure a Client. Give GRPCTargets, HTTPURL, or both.
type Options struct {
	// GRPCTargets are the host:port gRPC addresses of hookq nodes
	// (--grpc-addr). With several, the client connects to the first one
	// that answers and fails over to the others when it goes away; any
	// node serves every call.
	GRPCTargets []string
	// HTTPURL is the base URL of a hookq node's HTTP API, e.g.
	// "http://127.0.0.1:8080" (used when the transport is REST).
	HTTPURL string
	// Token is the bearer token sent with every call (scopes
	// publish:<queue> and consume:<queue>, or admin).
	Token string
	// Transport picks gRPC or REST; the default picks gRPC when
	// GRPCTargets is set.
	Transport Transport

	// TLS, when set, is used for both transports; otherwise CAFile, when
	// set, turns TLS on with that CA bundle (PEM). With neither, gRPC is
	// plaintext and REST follows the URL's scheme.
	TLS *tls.Config
	// CAFile is a PEM file of CA certificates to trust.
	CAFile string

	// HTTPClient replaces the client's own HTTP client for REST calls
	// (its TLS settings then win over TLS and CAFile).
	HTTPClient *http.Client
	// DialOptions are added to the client's own gRPC dial options.
	DialOptions []grpc.DialOption
	// Logger receives Consume's reconnects and settlement failures
	// (default: slog.Default()).
	Logger *slog.Logger
}

// Client calls hookq's consumer and publisher APIs over gRPC or REST. It
// is safe for concurrent use. Close it when done.
type Client struct {
	transport Transport
	token     string
	log       *slog.Logger

	conn      *grpc.ClientConn
	publisher hookqv1.PublisherClient
	consumer  hookqv1.ConsumerClient

	baseURL string
	http    *http.Client
}

var resolverSeq atomic.Uint64

// New builds a Client. It does not contact the server: a gRPC connection
// is made on the first call and remade after failures.
func New(opts Options) (*Client, error) {
	c := &Client{token: opts.Token, log: opts.Logger, transport: opts.Transport}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.transport == TransportAuto {
		c.transport = TransportREST
		if len(opts.GRPCTargets) > 0 {
			c.transport = TransportGRPC
		}
	}
	tlsConf, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	switch c.transport {
	case TransportGRPC:
		if len(opts.GRPCTargets) == 0 {
			return nil, errors.New("hookq client: the gRPC transport needs GRPCTargets")
		}
		if err := c.dial(opts, tlsConf); err != nil {
			return nil, err
		}
	case TransportREST:
	default:
		return nil, fmt.Errorf("hookq client: unknown transport %d", opts.Transport)
	}
	if opts.HTTPURL != "" {
		c.baseURL = strings.TrimRight(opts.HTTPURL, "/")
		c.http = opts.HTTPClient
		if c.http == nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 64
			if tlsConf != nil {
				tr.TLSClientConfig = tlsConf
			}
			c.http = &http.Client{Transport: tr}
		}
	} else if c.transport == TransportREST {
		return nil, errors.New("hookq client: the REST transport needs HTTPURL")
	}
	return c, nil
}

func tlsConfig(opts Options) (*tls.Config, error) {
	if opts.TLS != nil {
		return opts.TLS.Clone(), nil
	}
	if opts.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(opts.CAFile)
	if err != nil {
		return nil, fmt.Errorf("hookq client: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("hookq client: CA file %s: no PEM certificates", opts.CAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// dial sets up one gRPC connection over every target: a manual resolver
// hands them all to pick_first, which uses the first that connects and
// moves on when it fails.
func (c *Client) dial(opts Options, tlsConf *tls.Config) error {
	r := manual.NewBuilderWithScheme(fmt.Sprintf("hookq-client-%d", resolverSeq.Add(1)))
	addrs := make([]resolver.Address, len(opts.GRPCTargets))
	for i, t := range opts.GRPCTargets {
		// Each address is its own TLS server name (the connection's
		// authority names no host); a TLS.ServerName set by the caller
		// still wins.
		host, _, err := net.SplitHostPort(t)
		if err != nil {
			return fmt.Errorf("hookq client: gRPC target %q: want host:port: %w", t, err)
		}
		addrs[i] = resolver.Address{Addr: t, ServerName: host}
	}
	r.InitialState(resolver.State{Addresses: addrs})
	creds := insecure.NewCredentials()
	if tlsConf != nil {
		creds = credentials.NewTLS(tlsConf)
	}
	dopts := []grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(bearer{token: c.token, secure: tlsConf != nil}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
		grpc.WithConnectParams(grpcConnectParams),
	}
	dopts = append(dopts, opts.DialOptions...)
	conn, err := grpc.NewClient(r.Scheme()+":///hookq", dopts...)
	if err != nil {
		return fmt.Errorf("hookq client: %w", err)
	}
	c.conn = conn
	c.publisher = hookqv1.NewPublisherClient(conn)
	c.consumer = hookqv1.NewConsumerClient(conn)
	return nil
}

// bearer sends the token as "authorization: Bearer <token>".
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b.token == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity is false so plaintext development nodes work;
// use TLS (Options.TLS or CAFile) whenever the network is not trusted.
func (b bearer) RequireTransportSecurity() bool { return false }

// Transport reports the transport the client uses.
func (c *Client) Transport() Transport { return c.transport }

// Close releases the gRPC connection and idle HTTP connections.
func (c *Client) Close() error {
	if c.http != nil {
		c.http.CloseIdleConnections()
	}
	if c.conn != nil {
		return c.conn.Close()
	}
	return nil
}

// Publish appends msgs to queue and returns their message ids, in order.
// It answers once every message is durable on a majority of the cluster.
// It needs the publish:<queue> scope. On an error nothing or everything
// may have been stored (an unavailable answer can hide a commit): set
// Message.EventID to make retries safe.
func (c *Client) Publish(ctx context.Context, queue string, msgs ...Message) ([]string, error) {
	if c.transport == TransportGRPC {
		return c.grpcPublish(ctx, queue, msgs)
	}
	return c.restPublish(ctx, queue, msgs)
}

// Lease leases up to opts.Max messages of queue, waiting up to opts.Wait
// for the first one. It returns no deliveries and no error when none
// arrived in time. Each delivery must be settled (Ack, Nack, Reject) before
// its Meta.LeaseExpiresAt, or extended; otherwise it is delivered again.
func (c *Client) Lease(ctx context.Context, queue string, opts LeaseOptions) ([]Delivery, error) {
	if c.transport == TransportGRPC {
		return c.grpcLease(ctx, queue, opts)
	}
	return c.restLease(ctx, queue, opts)
}

// Ack settles a delivery as done. A delivery whose lease has already ended
// answers an error for which IsLeaseExpired is true.
func (c *Client) Ack(ctx context.Context, queue, deliveryID string) error {
	if c.transport == TransportGRPC {
		return c.grpcSettleOne(ctx, "ack", queue, Settlement{Acks: []string{deliveryID}})
	}
	return c.restAction(ctx, queue, deliveryID, "ack", nil, nil)
}

// Nack ends a delivery's lease and makes the message available again after
// opts.Delay (the queue's backoff by default). At the queue's maxAttempts
// the message is dead-lettered instead.
func (c *Client) Nack(ctx context.Context, queue, deliveryID string, opts NackOptions) error {
	if c.transport == TransportGRPC {
		return c.grpcSettleOne(ctx, "nack", queue, Settlement{Nacks: []NackItem{{DeliveryID: deliveryID, Delay: opts.Delay, Reason: opts.Reason}}})
	}
	return c.restAction(ctx, queue, deliveryID, "nack", restNack(opts.Delay, opts.Reason), nil)
}

// Reject dead-letters the delivery's message now, recording reason
// (default "rejected").
func (c *Client) Reject(ctx context.Context, queue, deliveryID, reason string) error {
	if c.transport == TransportGRPC {
		return c.grpcSettleOne(ctx, "reject", queue, Settlement{Rejects: []RejectItem{{DeliveryID: deliveryID, Reason: reason}}})
	}
	return c.restAction(ctx, queue, deliveryID, "reject", restReject(reason), nil)
}

// Extend moves the end of a delivery's lease to visibility from now
// (clamped by the server to 12h after the lease began).
func (c *Client) Extend(ctx context.Context, queue, deliveryID string, visibility time.Duration) error {
	if c.transport == TransportGRPC {
		return c.grpcSettleOne(ctx, "extend", queue, Settlement{Extends: []ExtendItem{{DeliveryID: deliveryID, Visibility: visibility}}})
	}
	return c.restAction(ctx, queue, deliveryID, "extend", map[string]string{"visibility": visibility.String()}, nil)
}

// Settle settles many deliveries of one queue in one call and returns one
// result per item, in the order acks, nacks, rejects, extends. Stale items
// (lease ended, unknown delivery) are results, not errors; the error is for
// the call as a whole (unknown queue, bad arguments, unavailable).
func (c *Client) Settle(ctx context.Context, queue string, s Settlement) ([]SettleResult, error) {
	if c.transport == TransportGRPC {
		return c.grpcSettle(ctx, queue, s)
	}
	return c.restSettle(ctx, queue, s)
}
