package embedded

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strconv"
	"unsafe"

	"github.com/sivchari/kumo"
)

// Transport returns an http.RoundTripper that serves each request with
// srv's handler in the calling goroutine: no socket, no HTTP encoding or
// parsing, no connection pool to run short of under concurrency. It is
// the transport of the store's SDK clients in embedded mode
// (BENCHMARKS.md, "CPU per operation"). When srv's handler cannot be
// reached (kumo.Server keeps it in an unexported field, read here by
// reflection; a kumo upgrade that moves it makes TestInProcessTransport
// fail), it returns nil and the caller keeps loopback HTTP to srv.URL.
func Transport(srv *kumo.Server) http.RoundTripper {
	h := kumoHandler(srv)
	if h == nil {
		return nil
	}
	return inProcess{h: h}
}

// kumoHandler is the handler of srv's httptest.Server, or nil.
func kumoHandler(srv *kumo.Server) http.Handler {
	if srv == nil {
		return nil
	}
	f := reflect.ValueOf(srv).Elem().FieldByName("httpServer")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*httptest.Server]() {
		return nil
	}
	ts := *(**httptest.Server)(unsafe.Pointer(f.UnsafeAddr()))
	if ts == nil || ts.Config == nil {
		return nil
	}
	return ts.Config.Handler
}

// inProcess serves requests with h directly.
type inProcess struct{ h http.Handler }

// RoundTrip implements http.RoundTripper: it hands h the request as a
// server would see it (RequestURI, Host, RemoteAddr set) and returns what
// h wrote, buffered. A panic in h is an error, as a connection that a
// server dropped would be.
func (t inProcess) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	// Yield first, as a call over the network would (its goroutine parks
	// and queues again behind the others). Without it a request ran to
	// its end once scheduled, the goroutines woken by kumo's store lock
	// jumped the queue, and the others waited: p99 of refresh at 8
	// clients 8.6 times p50 (35 ms), against 2.6-2.7 with it
	// (BENCHMARKS.md, "CPU per operation").
	runtime.Gosched()
	in := *req // shallow: the handler reads it, the caller keeps req intact
	in.RequestURI = req.URL.RequestURI()
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	in.RemoteAddr = "127.0.0.1:1"
	in.Proto, in.ProtoMajor, in.ProtoMinor = "HTTP/1.1", 1, 1
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := &bufferedResponse{header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, fmt.Errorf("embedded store: kumo's handler panicked on %s %s: %v",
				req.Method, req.Header.Get("X-Amz-Target"), p)
		}
	}()
	t.h.ServeHTTP(w, &in)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	body := w.body.Bytes()
	w.header.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// bufferedResponse is the http.ResponseWriter of inProcess: the status,
// the headers and the body in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(p)
}
