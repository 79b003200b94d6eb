// Package permissionstest is test support for PERMISSION_SOURCE=service: a
// permission service on an httptest server, standing for the team's own
// service, whose answers a test sets and changes while it runs and which
// records what it was asked; and an in-memory permission-request key set.
//
// It is test support: no Lambda function may import it (shared/lambdahttp's
// TestLambdaDependencies refuses it).
package permissionstest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/signing"
)

// Asked is one request the service received.
type Asked struct {
	Body          permissions.Request
	Authorization string
	ContentType   string
}

// Service is a permission service. Its zero answer is 200
// {"permissions": []} with Cache-Control: max-age=0.
type Service struct {
	// URL is the service's PERMISSIONS_URL (its /permissions path).
	URL string
	srv *httptest.Server

	mu      sync.Mutex
	status  int
	body    string
	headers http.Header
	block   chan struct{}
	asked   []Asked
}

// New starts a service, closed at the end of the test.
func New(t testing.TB) *Service {
	s := &Service{status: http.StatusOK, body: `{"permissions":[]}`, headers: http.Header{"Cache-Control": {"max-age=0"}}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/permissions"
	t.Cleanup(func() {
		s.Unblock()
		s.srv.Close()
	})
	return s
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body permissions.Request
	_ = json.Unmarshal(raw, &body)
	s.mu.Lock()
	s.asked = append(s.asked, Asked{Body: body, Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")})
	status, answer, block := s.status, s.body, s.block
	for k, v := range s.headers {
		w.Header()[k] = v
	}
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// Grant makes the service answer 200 with perms, kept for maxAge seconds
// (Cache-Control: max-age=maxAge).
func (s *Service) Grant(maxAge int, perms ...string) {
	if perms == nil {
		perms = []string{}
	}
	b, _ := json.Marshal(permissions.Answer{Permissions: perms})
	s.Answer(http.StatusOK, string(b), "Cache-Control", "max-age="+strconv.Itoa(maxAge))
}

// Answer makes the service answer status with body and the headers given
// as name, value pairs.
func (s *Service) Answer(status int, body string, headers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body, s.headers = status, body, http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		s.headers.Set(headers[i], headers[i+1])
	}
}

// Block holds every request until Unblock (or until the client gives up):
// a service that does not answer in time.
func (s *Service) Block() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.block == nil {
		s.block = make(chan struct{})
	}
}

// Unblock lets held and later requests be answered.
func (s *Service) Unblock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.block != nil {
		close(s.block)
		s.block = nil
	}
}

// Asked returns the requests received so far.
func (s *Service) Asked() []Asked {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Asked(nil), s.asked...)
}

// Count is how many requests were received.
func (s *Service) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.asked)
}

// MemSource is an in-memory signing.Source: a key set of its own for a
// test (an RSA key generation each).
type MemSource struct {
	mu  sync.Mutex
	doc []byte
}

func (m *MemSource) GetSigningKeys(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc == nil {
		return nil, shared.ErrNotFound
	}
	return bytes.Clone(m.doc), nil
}

func (m *MemSource) CreateSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc != nil {
		return shared.ErrConflict
	}
	m.doc = bytes.Clone(doc)
	return nil
}

func (m *MemSource) PutSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc = bytes.Clone(doc)
	return nil
}

// signer is one key set per test binary: an RSA key generation each would
// be slow.
var signer = sync.OnceValues(func() (*signing.RequestSigner, error) {
	return signing.NewRequestSigner(context.Background(), &MemSource{}, signing.Options{})
})

// Signer is an in-memory permission-request key set, shared by the tests
// of one binary.
func Signer(t testing.TB) *signing.RequestSigner {
	t.Helper()
	s, err := signer()
	if err != nil {
		t.Fatalf("permission-request key set: %v", err)
	}
	return s
}
