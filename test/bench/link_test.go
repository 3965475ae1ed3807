//go:build e2e && bench

package bench

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kindling-dev/kindling/internal/testenv"
	"github.com/kindling-dev/kindling/test/e2e"
)

// A shaped link stands between kindling (or kubectl) and the API server, on loopback, and makes the
// connection look like a laptop's to a remote cluster: kindling → counter → Toxiproxy → API server.
//
//   - Toxiproxy (used as a Go package, in the benchmark's process) delays every chunk by half the RTT in
//     each direction and paces it to the profile's bandwidth: upstream (kindling → cluster, the stdin of
//     the exec streams) at the profile's rate, downstream at 5× that (a typical asymmetric access link;
//     lan is symmetric).
//   - The counter in front of it logs every read with its direction, size and time (the bytes on the wire,
//     TLS included, as kindling sends and receives them), and holds each new connection for one RTT
//     before it passes anything on: the TCP handshake that loopback does for free.
//
// Everything stays on 127.0.0.1: the API server's certificate names 127.0.0.1 (an IP SAN), so a kubeconfig
// whose server is the counter's 127.0.0.1:PORT verifies as the original does.

// A profile is a link's round-trip time and bandwidth in bits per second each way.
type profile struct {
	name     string
	rtt      time.Duration
	up, down int64
}

var profiles = []profile{
	{name: "lan", rtt: 2 * time.Millisecond, up: 1e9, down: 1e9},
	{name: "cloud", rtt: 50 * time.Millisecond, up: 20e6, down: 100e6},
	{name: "far", rtt: 150 * time.Millisecond, up: 5e6, down: 25e6},
}

func (p profile) String() string {
	return fmt.Sprintf("%s RTT, %s up, %s down", ms(p.rtt), rate(p.up), rate(p.down))
}

// transferTime is how long n bytes take upstream.
func (p profile) transferTime(n int64) time.Duration {
	return time.Duration(float64(n*8) / float64(p.up) * float64(time.Second))
}

// floor is the link's own cost of an exchange: round trips (halves count: data that only has to arrive)
// and bytes sent upstream. It prints as "2 RTT + 8.1 KB ↑ = 103 ms".
type floor struct {
	p          profile
	roundTrips float64
	bytes      int64
	bytesText  string        // what the bytes are, when not the content as it is
	extra      time.Duration // spent off the link (a debounce, the app's restart), named in extraText
	extraText  string
}

func (f floor) total() time.Duration {
	return f.extra + time.Duration(f.roundTrips*float64(f.p.rtt)) + f.p.transferTime(f.bytes)
}

func (f floor) String() string {
	s := fmt.Sprintf("%g RTT + %s ↑", f.roundTrips, size(f.bytes))
	if f.bytesText != "" {
		s += " (" + f.bytesText + ")"
	}
	if f.extraText != "" {
		s = f.extraText + " + " + s
	}
	return s + " = " + ms(f.total())
}

func rate(bps int64) string {
	if bps >= 1e9 {
		return fmt.Sprintf("%g Gbit/s", float64(bps)/1e9)
	}
	return fmt.Sprintf("%g Mbit/s", float64(bps)/1e6)
}

// link is a running shaped link.
type link struct {
	profile
	// addr is the link's 127.0.0.1:PORT.
	addr string
	// kubeconfig is a copy of the tests' kubeconfig whose server is the link.
	kubeconfig string

	mu    sync.Mutex
	reads []read      // every read of either side, in the order they happened
	opens []time.Time // when each connection was accepted
}

// read is one chunk through the counter.
type read struct {
	at time.Time
	up bool
	n  int
}

// startLink starts a link shaped as p in front of the API server, with a kubeconfig through it; it stops
// when the test ends.
func startLink(t testing.TB, p profile) *link {
	t.Helper()
	l := newLink(t, p, apiServerAddr(t))
	l.kubeconfig = proxiedKubeconfig(t, "https://"+l.addr)
	return l
}

// newLink starts a link shaped as p in front of the TCP server at server (on loopback).
func newLink(t testing.TB, p profile, server string) *link {
	t.Helper()
	// Toxiproxy logs through zerolog's global logger too; the benchmark's output is its table.
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	shaper := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()), p.name, "127.0.0.1:0", server)
	if err := shaper.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(shaper.Stop)
	// The bandwidth first, then the latency. The bandwidth toxic takes one chunk at a time (no buffer in
	// front of it), so that Toxiproxy stops reading the socket while it paces: the sender's writes block
	// as on a real link, instead of a whole tree vanishing into the latency toxic's queue of 1,024 chunks
	// of up to 32 KB (kindling would take that for a pod that stopped answering). The price: the latency
	// toxic counts a chunk's delay from when it was read, so a chunk's pacing (≤ 32 KB ÷ the rate) is not
	// added to its latency but overlaps it; small messages (the round trips) are not affected.
	for _, dir := range []struct {
		stream string
		bps    int64
	}{{"upstream", p.up}, {"downstream", p.down}} {
		// Toxiproxy's rate is in KB/s of 1,000 bytes.
		addToxic(t, shaper, fmt.Sprintf(`{"name": "bandwidth_%s", "type": "bandwidth", "stream": %q, "attributes": {"rate": %d}}`, dir.stream, dir.stream, dir.bps/8/1000))
		half := p.rtt / 2 / time.Millisecond
		addToxic(t, shaper, fmt.Sprintf(`{"name": "latency_%s", "type": "latency", "stream": %q, "attributes": {"latency": %d}}`, dir.stream, dir.stream, half))
	}

	l := &link{profile: p}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	l.addr = listener.Addr().String()
	go l.serve(listener, shaper.Listen)
	return l
}

func addToxic(t testing.TB, proxy *toxiproxy.Proxy, spec string) {
	t.Helper()
	if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
		t.Fatalf("toxiproxy: %s: %v", spec, err)
	}
}

// apiServerAddr is the API server's host:port, which must be on loopback: the benchmark sends nothing
// anywhere else.
func apiServerAddr(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(e2e.RESTConfig().Host)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		// (testenv: in CI this is a failure, not a silent skip.)
		testenv.Skip(t, fmt.Sprintf("the API server is at %s, not on loopback: the shaped links only run against the local cluster", u.Host))
	}
	return u.Host
}

// proxiedKubeconfig writes a copy of the tests' kubeconfig whose clusters' server is server, and checks
// that the API server answers through it (which verifies its certificate for that address).
func proxiedKubeconfig(t testing.TB, server string) string {
	t.Helper()
	config, err := clientcmd.LoadFromFile(e2e.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range config.Clusters {
		c.Server = server
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		t.Fatal(err)
	}
	rest, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := kubernetes.NewForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Discovery().ServerVersion(); err != nil {
		t.Fatalf("the API server does not answer through the shaped link %s: %v", server, err)
	}
	return path
}

// proxySocketBuffer is the size of the counter's socket buffers.
const proxySocketBuffer = 128 << 10

// serve accepts connections and forwards them to the shaper, counting what passes.
func (l *link) serve(listener net.Listener, shaper string) {
	for {
		client, err := listener.Accept()
		if err != nil {
			return
		}
		go l.forward(client, shaper)
	}
}

func (l *link) forward(client net.Conn, shaper string) {
	defer client.Close()
	l.mu.Lock()
	l.opens = append(l.opens, time.Now())
	l.mu.Unlock()
	// The TCP handshake: what the client sends meanwhile waits in the socket.
	time.Sleep(l.rtt)
	server, err := net.Dial("tcp", shaper)
	if err != nil {
		return
	}
	defer server.Close()
	// Small socket buffers on the proxy's side, so that what is in flight is the sender's own socket
	// buffer and the link's, not megabytes parked in the proxy (loopback sockets grow theirs freely).
	for _, c := range []net.Conn{client, server} {
		c.(*net.TCPConn).SetReadBuffer(proxySocketBuffer)
		c.(*net.TCPConn).SetWriteBuffer(proxySocketBuffer)
	}
	done := make(chan struct{})
	go func() {
		l.copy(server, client, true)
		close(done)
	}()
	l.copy(client, server, false)
	<-done
}

// copy copies until EOF, logging each read, then half-closes dst (the other direction goes on).
func (l *link) copy(dst, src net.Conn, up bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.mu.Lock()
			l.reads = append(l.reads, read{at: time.Now(), up: up, n: n})
			l.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if c, ok := dst.(*net.TCPConn); ok {
		c.CloseWrite()
	}
}

// wire is what crossed the link during an interval.
type wire struct {
	up, down int64
	// roundTrips counts the times the link turned around: downstream data arriving at least 0.9 RTT after
	// the last upstream byte, with nothing downstream in between. That is an answer the client waited for
	// (its question took a full RTT to come back): streams that flow both ways at once, or answers to
	// earlier questions while the client keeps sending, do not count. Over all connections at once, so
	// that questions asked in parallel on several connections count once. Plus one per connection opened
	// (its TCP handshake).
	roundTrips int
	conns      int
}

// traffic is what crossed the link between from and to.
func (l *link) traffic(from, to time.Time) wire {
	l.mu.Lock()
	defer l.mu.Unlock()
	var w wire
	var lastUp time.Time
	asked := false
	for _, r := range l.reads {
		if r.at.Before(from) || r.at.After(to) {
			continue
		}
		if r.up {
			w.up += int64(r.n)
			lastUp, asked = r.at, true
			continue
		}
		w.down += int64(r.n)
		if asked && r.at.Sub(lastUp) >= l.rtt*9/10 {
			w.roundTrips++
		}
		asked = false
	}
	for _, at := range l.opens {
		if !at.Before(from) && !at.After(to) {
			w.conns++
			w.roundTrips++
		}
	}
	return w
}

func (w wire) String() string {
	return fmt.Sprintf("%s ↑ %s ↓, %d RTT (%d conn.)", size(w.up), size(w.down), w.roundTrips, w.conns)
}

// medianWire is the element-wise median of the traffic of several runs of the same exchange.
func medianWire(ws []wire) wire {
	pick := func(f func(wire) int64) int64 {
		ds := make([]time.Duration, len(ws))
		for i, w := range ws {
			ds[i] = time.Duration(f(w))
		}
		return int64(median(ds))
	}
	return wire{
		up:         pick(func(w wire) int64 { return w.up }),
		down:       pick(func(w wire) int64 { return w.down }),
		roundTrips: int(pick(func(w wire) int64 { return int64(w.roundTrips) })),
		conns:      int(pick(func(w wire) int64 { return int64(w.conns) })),
	}
}

// TestLinkShaping checks the link itself on an echo server: a one-byte ping-pong takes one RTT and counts
// as one round trip; a bulk upload goes at the upstream rate. It records what it measured for cloud.
func TestLinkShaping(t *testing.T) {
	skipUnlessProfile(t, "cloud")
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	l := newLink(t, profiles[1], echo.Addr().String())

	start := time.Now()
	c, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const pings = 10
	var rtts []time.Duration
	b := []byte{0}
	for range pings {
		sent := time.Now()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		rtts = append(rtts, time.Since(sent))
	}
	pingWire := l.traffic(start, time.Now())

	// 2.5 MB up: one second at 20 Mbit/s. The echo comes back at 100 Mbit/s, behind it.
	payload := bytes.Repeat([]byte("kindling"), 2500_000/8)
	start = time.Now()
	go c.Write(payload)
	if _, err := io.ReadFull(c, make([]byte, len(payload))); err != nil {
		t.Fatal(err)
	}
	bulk := time.Since(start) - l.rtt
	upRate := float64(len(payload)*8) / bulk.Seconds()

	t.Logf("cloud: ping-pong median %v (want %v); %d pings counted as %d round trips (+%d handshake); 2.5 MB up at %.1f Mbit/s (want 20)",
		median(rtts), l.rtt, pings, pingWire.roundTrips-pingWire.conns, pingWire.conns, upRate/1e6)
	if m := median(rtts); m < l.rtt || m > l.rtt*13/10 {
		t.Errorf("ping-pong median %v, want %v to %v", m, l.rtt, l.rtt*13/10)
	}
	if pingWire.roundTrips != pings+1 || pingWire.up != pings || pingWire.down != pings {
		t.Errorf("ping-pong counted as %+v, want %d round trips (one handshake), %d bytes each way", pingWire, pings+1, pings)
	}
	if upRate < 17e6 || upRate > 21e6 {
		t.Errorf("upload at %.1f Mbit/s, want 17 to 21", upRate/1e6)
	}
	recordLinkCheck(fmt.Sprintf("a loopback echo through `cloud`: one-byte ping-pong %s (median of %d; %d counted as %d round trips + 1 handshake), 2.5 MB up at %.1f Mbit/s",
		ms(median(rtts)), pings, pings, pingWire.roundTrips-pingWire.conns, upRate/1e6))
}
