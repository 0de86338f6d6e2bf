package main

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/schemacheck"
)

// statusSchemaPath is docs/status-schema.json, relative to this package.
const statusSchemaPath = "../../docs/status-schema.json"

// loadStatusSchema parses the schema, failing the test if it uses more
// of JSON Schema than the validator checks.
func loadStatusSchema(t *testing.T) *schemacheck.Schema {
	t.Helper()
	s, err := schemacheck.Load(statusSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStatusSchemaMatchesOutputType: the schema describes exactly the
// fields hastctl prints, so a field added to the output and not to the
// schema (or the reverse) fails here even while no output holds it.
func TestStatusSchemaMatchesOutputType(t *testing.T) {
	s := loadStatusSchema(t)
	if err := s.MatchType(reflect.TypeOf(statusJSON{})); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			SchemaVersion struct {
				Enum []int `json:"enum"`
			} `json:"schema_version"`
		} `json:"properties"`
	}
	data, err := json.Marshal(newStatusJSON("hasta", &control.Response{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(data); err != nil {
		t.Fatalf("empty classic document: %v\n%s", err, data)
	}
	raw := readFile(t, statusSchemaPath)
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if e := doc.Properties.SchemaVersion.Enum; len(e) != 1 || e[0] != statusSchemaVersion {
		t.Fatalf("the schema's schema_version is %v, hastctl's %d", e, statusSchemaVersion)
	}
}

// fullResponse is an answer of a clustered primary with every optional
// part filled: a synchronization, the lease, the committed state and an
// unknown resource.
var fullResponse = &control.Response{
	Resources: []control.ResourceStatus{
		{
			Name: "r0", Role: "primary", Provider: "r0", LocalPath: "/a.img", RemoteAddr: "tcp4://127.0.0.12:8457",
			SourceAddr: "127.0.0.11", Replication: "memsync", Checksum: "crc32", Compression: "hole",
			Status: "complete", WorkerPID: 42, Dirty: 65536, ExtentSize: 65536, KeepDirty: 64,
			Stats: control.Stats{Reads: 1, Writes: 2, Deletes: 3, Flushes: 4, ActivemapUpdates: 5,
				ReadErrors: 6, WriteErrors: 7, DeleteErrors: 8, FlushErrors: 9, ReadBytes: 10, WriteBytes: 11, DeleteBytes: 12},
			Queues:     control.Queues{Recv: 3},
			Sync:       &control.SyncProgress{BytesLeft: 1, BytesDone: 2, Rate: 3, ETASeconds: 4, Source: "primary"},
			PeerState:  "syncing",
			LocalState: "uptodate",
			Export:     "nbd+unix:///r0?socket=/run/hast/r0.nbd",
			Device:     "/dev/hast/r0 -> /dev/nbd0 (kernel-nbd)",
			Cluster:    &testResource,
			Lease:      &control.LocalLease{DurationMS: 400, RemainingMS: 321},
		},
		{Name: "r1", Role: "secondary", Replication: "fullsync", Checksum: "none", Compression: "lzf",
			Cluster: &control.ClusterResource{Name: "r1"}, ClusterError: "cannot run the committed role"},
		{Name: "nosuch", Error: control.ErrNoEntry, Message: "unknown resource"},
	},
	Cluster: testCluster,
}

func TestStatusJSONValidates(t *testing.T) {
	s := loadStatusSchema(t)
	doc := newStatusJSON("hasta", fullResponse)
	var b bytes.Buffer
	if err := writeStatusJSON(&b, doc); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(b.Bytes()); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Mode != "clustered" || len(doc.Resources) != 2 || len(doc.Errors) != 1 || doc.Cluster == nil {
		t.Fatalf("document %+v", doc)
	}
	r1 := doc.Resources[1]
	if r1.Status != "none" || r1.LocalState != "unknown" || r1.Sync != nil || r1.Cluster.Committed || r1.Cluster.Nodes == nil {
		t.Fatalf("r1 %+v", r1)
	}
	for _, want := range []string{`"schema_version": 1,`, `"write_bytes": 11`, `"remaining_ms": 321`, `"raft_state": "follower"`,
		`"health": "dead"`, `"data": "outdated"`, `"name": "nosuch"`, `"sync": null`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, b.String())
		}
	}

	// A value outside the schema's enums is caught.
	bad := *fullResponse
	bad.Resources = []control.ResourceStatus{fullResponse.Resources[0]}
	bad.Resources[0].Role = "undef"
	data, _ := json.Marshal(newStatusJSON("hasta", &bad))
	if err := s.Validate(data); err == nil || !strings.Contains(err.Error(), "/resources/0/role") {
		t.Fatalf("role undef: %v", err)
	}
}

func TestListJSONFlag(t *testing.T) {
	conf, _ := testConfig(t)
	// No hastd: the flag is accepted and the failure is the usual one.
	st, out, errs := hastctl("status", "-j", "-c", conf, "-n", "hasta")
	if st == exitUsage || out != "" || !strings.Contains(errs, "hastctl:") {
		t.Fatalf("status -j without hastd: %d %q %q", st, out, errs)
	}
	if st, _, errs := hastctl("dump", "-j", "-c", conf, "-n", "hasta"); st != exitUsage {
		t.Fatalf("dump -j: %d %q", st, errs)
	}
}

// readFile returns the content of path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
