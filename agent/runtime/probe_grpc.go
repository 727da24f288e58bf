package runtime

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/stevedore-dev/stevedore/spec"
)

// grpcProbe is a grpc probe: grpc.health.v1.Health/Check on the pod's IP
// over plain HTTP/2 (no TLS, as Kubernetes'), SERVING is success. Each probe
// has its own connection, closed after it.
type grpcProbe struct {
	addr    string
	service string
	err     error
}

func newGRPCProbe(a *spec.GRPCAction, podIP string) *grpcProbe {
	if a.Port <= 0 || a.Port > 65535 {
		return &grpcProbe{err: fmt.Errorf("invalid port number: %d", a.Port)}
	}
	if podIP == "" {
		return &grpcProbe{err: fmt.Errorf("pod has no IP")}
	}
	p := &grpcProbe{addr: net.JoinHostPort(podIP, strconv.Itoa(int(a.Port)))}
	if a.Service != nil {
		p.service = *a.Service
	}
	return p
}

func (p *grpcProbe) probe(ctx context.Context, timeout time.Duration) (probeResult, string, error) {
	if p.err != nil {
		return resultUnknown, "", p.err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// passthrough: the address is an IP, no resolver goroutine needed.
	conn, err := grpc.NewClient("passthrough:///"+p.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent(probeUserAgent),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return probeDialer.DialContext(ctx, "tcp", addr)
		}),
	)
	if err != nil {
		return resultFailure, fmt.Sprintf("error: failed to connect service at %q: %+v", p.addr, err), nil
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(metadata.NewOutgoingContext(ctx, metadata.MD{}), &healthpb.HealthCheckRequest{Service: p.service})
	if err != nil {
		// The kubelet's messages.
		if st, ok := status.FromError(err); ok {
			switch st.Code() {
			case codes.Unimplemented:
				return resultFailure, "this server does not implement the grpc health protocol (grpc.health.v1.Health): " + st.Message(), nil
			case codes.DeadlineExceeded:
				return resultFailure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout), nil
			}
		}
		return resultFailure, fmt.Sprintf("error: health rpc probe failed: %+v", err), nil
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return resultFailure, fmt.Sprintf("service unhealthy (responded with %q)", s.String()), nil
	}
	return resultSuccess, "", nil
}
