package embedded

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/applinks/applinks/shared/store/table"
)

// The X-Amz-Target prefixes of the two services the store uses.
const (
	dynamoPrefix  = "DynamoDB_20120810."
	secretsPrefix = "secretsmanager."
)

// recorded are the operations whose successful requests the journal keeps:
// every write to items and secrets. Table operations are not kept: Start
// creates the table from package table every time.
var recorded = map[string]bool{
	dynamoPrefix + "PutItem":                   true,
	dynamoPrefix + "UpdateItem":                true,
	dynamoPrefix + "DeleteItem":                true,
	dynamoPrefix + "BatchWriteItem":            true,
	dynamoPrefix + "TransactWriteItems":        true,
	secretsPrefix + "CreateSecret":             true,
	secretsPrefix + "PutSecretValue":           true,
	secretsPrefix + "UpdateSecret":             true,
	secretsPrefix + "DeleteSecret":             true,
	secretsPrefix + "RestoreSecret":            true,
	secretsPrefix + "UpdateSecretVersionStage": true,
	secretsPrefix + "PutResourcePolicy":        true,
	secretsPrefix + "DeleteResourcePolicy":     true,
	secretsPrefix + "TagResource":              true,
	secretsPrefix + "UntagResource":            true,
}

// recorder is the SDK clients' transport: it passes every request to kumo
// and hands the body of each write that kumo accepted (200) to the journal.
//
// Two writes to the same item (or secret) are recorded in the order kumo
// applied them: each write holds the locks of the keys it touches from
// before it is sent until it is queued, so a second write to one of those
// keys is sent only after the first is in the journal's queue. Writes to
// different keys go in parallel, as they would without the journal. A
// write whose keys cannot be read from its body takes every lock.
type recorder struct {
	next    http.RoundTripper
	journal *journal

	all     sync.RWMutex // held for reading by keyed writes, for writing by the rest
	stripes [64]sync.Mutex
	seed    maphash.Seed
}

func newRecorder(next http.RoundTripper, j *journal) *recorder {
	return &recorder{next: next, journal: j, seed: maphash.MakeSeed()}
}

// RoundTrip implements http.RoundTripper.
func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	target := req.Header.Get("X-Amz-Target")
	if !recorded[target] || req.Body == nil {
		return r.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	out := req.WithContext(req.Context()) // a shallow copy: the headers are only read
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }

	unlock := r.lock(target, body)
	defer unlock()
	resp, err := r.next.RoundTrip(out)
	if err == nil && resp.StatusCode == http.StatusOK {
		r.journal.add(target, body)
	}
	return resp, err
}

// lock takes the locks of the keys a write touches and returns their
// release.
func (r *recorder) lock(target string, body []byte) func() {
	keys, ok := writeKeys(target, body)
	if !ok {
		r.all.Lock()
		return r.all.Unlock
	}
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(maphash.String(r.seed, k)%uint64(len(r.stripes))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	r.all.RLock()
	for _, i := range idx {
		r.stripes[i].Lock()
	}
	return func() {
		for _, i := range slices.Backward(idx) {
			r.stripes[i].Unlock()
		}
		r.all.RUnlock()
	}
}

// keyed is the part of a DynamoDB request that names an item.
type keyed struct {
	TableName string
	Item      map[string]json.RawMessage
	Key       map[string]json.RawMessage
}

func (k *keyed) key() (string, bool) {
	m := k.Key
	if m == nil {
		m = k.Item
	}
	pk, sk := m[table.PartitionKey], m[table.SortKey]
	if k.TableName == "" || pk == nil {
		return "", false
	}
	return k.TableName + "\x00" + string(pk) + "\x00" + string(sk), true
}

// writeKeys returns the items or secrets a write touches, as strings, or
// false when the body does not name them in a way this knows.
func writeKeys(target string, body []byte) ([]string, bool) {
	if name, ok := strings.CutPrefix(target, secretsPrefix); ok {
		var in struct{ SecretId, Name string }
		if json.Unmarshal(body, &in) != nil {
			return nil, false
		}
		id := in.SecretId
		if name == "CreateSecret" {
			id = in.Name
		}
		if id == "" {
			return nil, false
		}
		return []string{"secret\x00" + id}, true
	}
	switch strings.TrimPrefix(target, dynamoPrefix) {
	case "PutItem", "UpdateItem", "DeleteItem":
		var in keyed
		if json.Unmarshal(body, &in) != nil {
			return nil, false
		}
		k, ok := in.key()
		return []string{k}, ok
	case "TransactWriteItems":
		var in struct {
			TransactItems []struct{ Put, Update, Delete, ConditionCheck *keyed }
		}
		if json.Unmarshal(body, &in) != nil || len(in.TransactItems) == 0 {
			return nil, false
		}
		keys := make([]string, 0, len(in.TransactItems))
		for _, t := range in.TransactItems {
			for _, op := range []*keyed{t.Put, t.Update, t.Delete, t.ConditionCheck} {
				if op == nil {
					continue
				}
				k, ok := op.key()
				if !ok {
					return nil, false
				}
				keys = append(keys, k)
			}
		}
		return keys, true
	}
	return nil, false
}
