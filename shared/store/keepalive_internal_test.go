package store

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/applinks/applinks/shared/config"
)

// TestKeepAliveAt32: the clients OpenConfig builds keep a connection for
// each of 32 concurrent requests, so a second burst of 32 opens none (the
// SDK's default client keeps 10 and opened 22 again).
func TestKeepAliveAt32(t *testing.T) {
	const clients = 32
	var opened atomic.Int32
	var mu sync.Mutex
	arrived, release := 0, make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == clients {
			close(release)
		}
		ch := release
		mu.Unlock()
		select { // all 32 in flight at once, so that 32 connections are open
		case <-ch:
		case <-time.After(10 * time.Second):
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	st := OpenConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")},
		config.Config{TableName: "t", EndpointURL: srv.URL})
	db := st.db.(*dynamodb.Client)
	burst := func() {
		mu.Lock()
		arrived, release = 0, make(chan struct{})
		mu.Unlock()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				if _, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key("a", "b")}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	burst()
	first := opened.Load()
	burst()
	if again := opened.Load() - first; first != clients || again != 0 {
		t.Errorf("connections opened: %d for the first burst of %d, %d for the second; want %d and 0", first, clients, again, clients)
	}

	// A client of the caller's own is left as it is.
	own := &http.Client{}
	if got := keepAliveClient(own); got != own {
		t.Errorf("keepAliveClient(a caller's *http.Client) = %v, want it unchanged", got)
	}
}
