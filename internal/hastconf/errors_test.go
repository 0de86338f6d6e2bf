package hastconf

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"/etc/hast.conf", 3, "local", "syntax error"}, "/etc/hast.conf:3: syntax error near 'local'"},
		{Error{"hast.conf", 9, "", "syntax error: expected '{'"}, "hast.conf:9: syntax error: expected '{' near end of file"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// clusterOK is a valid cluster section of three lines' worth of nodes
// between the braces (lines 2-4 when it starts on line 1).
const clusterOK = `cluster {
	on hasta { raft a:1 gossip a:2 statedir /s }
	on hastb { raft b:1 gossip b:2 statedir /s }
	witness hastw { raft w:1 gossip w:2 statedir /s }
}
`

// inCluster wraps body in a cluster section starting on line 1.
func inCluster(body string) string { return "cluster {\n" + body + "}\n" }

// Malformed configurations. Each error must be an *Error with the exact
// FILE:LINE and token, and a message containing msg.
var malformed = []struct {
	name string
	src  string
	host string // default hasta.example.org
	line int
	near string // "" for the end of the file
	msg  string
}{
	// Structure.
	{"unterminated resource", "resource r {\n\ton hasta {\n\t\tlocal /l\n\t}\n", "", 4, "",
		"syntax error: missing '}' to close resource r opened at line 1"},
	{"unterminated resource node", "resource r {\n\ton hasta {\n\t\tlocal /l\n", "", 3, "",
		"syntax error: missing '}' to close node section hasta of resource r opened at line 2"},
	{"unterminated node section", "on hasta {\n\tlisten 1.2.3.4\n\n# end\n", "", 4, "",
		"missing '}' to close node section hasta opened at line 1"},
	{"unterminated cluster", "cluster {\n\tfailover on\n", "", 2, "",
		"missing '}' to close the cluster section opened at line 1"},
	{"stray close brace", "listen 1.2.3.4\n}\n", "", 2, "}", "syntax error: '}' without a matching '{'"},
	{"stray open brace", "{\n}\n", "", 1, "{", "syntax error: unexpected '{' in the global section"},
	{"missing open brace", "resource r\n\tlocal /x\n", "", 2, "local", "syntax error: expected '{'"},
	{"missing value at end of file", "\ncontrol", "", 2, "", "syntax error: expected a control address"},
	{"number as statement", "8457\n", "", 1, "8457", "syntax error: unexpected number in the global section"},

	// Keywords in the wrong place.
	{"unknown global keyword", "\nfoo bar\n", "", 2, "foo", "syntax error: unknown keyword in the global section"},
	{"unknown resource keyword", "resource r {\n\tsize 10\n}\n", "", 2, "size", "unknown keyword in resource r"},
	{"control in resource", "resource r {\n\tcontrol /x\n}\n", "", 2, "control", "syntax error: control is not allowed in resource r"},
	{"remote at resource level", "resource r {\n\tremote x\n}\n", "", 2, "remote", "remote is not allowed in resource r"},
	{"listen in resource node", "resource r {\n\ton hasta {\n\t\tlisten x\n", "", 3, "listen",
		"listen is not allowed in node section hasta of resource r"},
	{"local in node section", "on hasta {\n\tlocal /x\n}\n", "", 2, "local", "local is not allowed in node section hasta"},
	{"value keyword as statement", "\n\nfullsync\n", "", 3, "fullsync", "syntax error: unexpected fullsync in the global section"},
	{"cluster inside a resource", "resource r {\n\tcluster {\n", "", 2, "cluster", "unknown keyword in resource r"},

	// Reserved words and numbers as names.
	{"reserved word as resource name", "resource local {\n}\n", "", 1, "local",
		"syntax error: 'local' is a reserved word and cannot be used as a resource name"},
	{"reserved word as node name", "resource r {\n\ton none {\n", "", 2, "none",
		"'none' is a reserved word and cannot be used as a node name"},
	{"reserved word as path", "resource r {\n\tlocal remote\n", "", 2, "remote",
		"'remote' is a reserved word and cannot be used as a local path"},
	{"reserved word as witness name", inCluster("\twitness on {\n"), "", 2, "on",
		"'on' is a reserved word and cannot be used as a witness name"},
	{"number as resource name", "resource 20 {\n}\n", "", 1, "20", "syntax error: expected a resource name, not a number"},

	// Values.
	{"timeout not a number", "timeout 3s\n", "", 1, "3s", "syntax error: timeout must be a number of seconds"},
	{"timeout out of range", "timeout 99999999999\n", "", 1, "99999999999", "timeout is out of range"},
	{"zero timeout", "\ntimeout 0\n", "", 2, "0", "Negative or zero timeout"},
	{"zero timeout in resource", "resource r {\n\ttimeout 000\n}\n", "", 2, "000", "Negative or zero timeout"},
	{"bad replication", "replication sync\n", "", 1, "sync", "syntax error: replication must be fullsync, memsync or async"},
	{"bad checksum", "resource r {\n\tchecksum md5\n", "", 2, "md5", "checksum must be none, crc32 or sha256"},
	{"bad compression", "compression crc32\n", "", 1, "crc32", "compression must be none, hole or lzf"},
	{"bad metaflush", "metaflush yes\n", "", 1, "yes", "syntax error: metaflush must be on or off"},
	{"resource name too long", "resource " + strings.Repeat("n", 255) + " {\n", "", 1, strings.Repeat("n", 255),
		"Resource name is too long"},
	{"provider name too long", "resource r {\n\tname " + strings.Repeat("n", 255) + "\n", "", 2, strings.Repeat("n", 255),
		"name argument is too long"},
	{"remote too long", "resource r {\n\ton hastb {\n\t\tremote " + strings.Repeat("h", 1024) + "\n", "", 3,
		strings.Repeat("h", 1024), "remote argument is too long"},
	{"exec too long", "exec /" + strings.Repeat("x", 4095) + "\n", "", 1, "/" + strings.Repeat("x", 4095), "Exec path is too long"},

	// Addresses.
	{"bad remote port", "resource r {\n\ton hasta {\n\t\tremote tcp://host:99999\n", "", 3, "tcp://host:99999",
		`invalid remote address: port "99999" is not a number from 0 to 65535`},
	{"bad remote of another node", "resource r {\n\ton hastb {\n\t\tremote [::1\n", "", 3, "[::1", "invalid remote address: missing ']'"},
	{"man page /64 example", "resource r {\n\ton hasta {\n\t\tremote tcp://2001:db8::1/64\n", "", 3, "tcp://2001:db8::1/64",
		"invalid remote address: several ':' but not an IPv6 address"},
	{"bad listen family", "listen tcp4://[::1]:80\n", "", 1, "tcp4://[::1]:80",
		"invalid listen address: ::1 is not an IPv4 address (tcp4://)"},
	{"bad control protocol", "control foo://x\n", "", 1, "foo://x", `invalid control address: unknown protocol "foo"`},
	{"bad source port", "resource r {\n\ton hasta {\n\t\tsource 1.2.3.4:x\n", "", 3, "1.2.3.4:x",
		`invalid source address: port "x" is not a number`},
	{"metrics without address", "metrics\n", "", 1, "", "syntax error: expected a metrics address"},
	{"metrics without host", "metrics :9457\n", "", 1, ":9457", "invalid metrics address: missing host"},
	{"metrics reserved word", "metrics none\n", "", 1, "none", "'none' is a reserved word and cannot be used as a metrics address"},
	{"metrics bad port", "\nmetrics 127.0.0.1:99999\n", "", 2, "127.0.0.1:99999",
		`invalid metrics address: port "99999" is not a number from 0 to 65535`},
	{"metrics bad protocol", "metrics http://127.0.0.1:9457\n", "", 1, "http://127.0.0.1:9457", `invalid metrics address: unknown protocol "http"`},
	{"metrics bad family", "metrics tcp6://127.0.0.1\n", "", 1, "tcp6://127.0.0.1", "invalid metrics address: 127.0.0.1 is not an IPv6 address (tcp6://)"},
	{"metrics unix socket", "metrics /var/run/hast.metrics\n", "", 1, "/var/run/hast.metrics",
		"invalid metrics address: a unix socket, but metrics are served over TCP"},
	{"metrics uds", "on hasta {\n\tmetrics uds:///x\n}\n", "", 2, "uds:///x", "invalid metrics address: a unix socket"},
	{"metrics bad in another node's section", "on hastb {\n\tmetrics [::1\n}\n", "", 2, "[::1", "invalid metrics address: missing ']'"},
	{"metrics too long", "metrics " + strings.Repeat("h", 1024) + "\n", "", 1, strings.Repeat("h", 1024), "metrics argument is too long"},
	{"metrics twice", "metrics 127.0.0.1:1\ncontrol /c\nmetrics 127.0.0.1:2\n", "", 3, "metrics",
		"metrics configured more than once in the global section (first at line 1)"},
	{"metrics twice in a node section", "metrics 10.0.0.1\non hastb {\n\tmetrics 10.0.0.2\n\tmetrics 10.0.0.3\n}\n", "", 4, "metrics",
		"metrics configured more than once in node section hastb (first at line 3)"},
	{"metrics in a resource", "resource r {\n\tmetrics 127.0.0.1\n", "", 2, "metrics",
		"syntax error: metrics is only allowed in the global section and in node sections"},
	{"metrics in a resource node", "resource r {\n\ton hasta {\n\t\tmetrics 127.0.0.1\n", "", 3, "metrics",
		"metrics is only allowed in the global section and in node sections"},
	{"metrics in the cluster section", inCluster("\tmetrics 127.0.0.1\n"), "", 2, "metrics", "unknown keyword in the cluster section"},

	// Characters outside the character set.
	{"percent", "resource r%1 {\n", "", 1, "%", "invalid character"},
	{"at sign", "listen\n  user@host\n", "", 2, "@", "invalid character"},
	{"double quote", "\nexec \"/bin/hook\"\n", "", 2, `"`, "invalid character (hast.conf has no quoting)"},
	{"semicolon", "replication async;\n", "", 1, ";", "invalid character (hast.conf needs no ';' between statements)"},
	{"ipv6 scope id", "listen fe80::1%em0\n", "", 1, "%", "invalid character"},
	{"invalid utf-8", "# ok\nlocal \xc3\n", "", 2, `\xc3`, "invalid character"},

	// Resource checks at the closing brace.
	{"duplicate resource", "resource r {\n\ton hasta { local /l remote x }\n}\nresource r {\n}\n", "", 4, "r",
		"Resource r configured more than once"},
	{"missing local", "resource r {\n\ton hasta {\n\t\tremote x\n\t}\n}\n", "", 5, "}",
		"Path to local component not configured for resource r"},
	{"missing remote", "resource r {\n\tlocal /l\n\ton hasta {\n\t}\n\ton hastb {\n\t\tremote x\n\t}\n}\n", "", 8, "}",
		"Remote address not configured for resource r"},
	{"no section for this node", "resource r {\n\ton hastb { local /l remote x }\n}\n", "", 3, "}",
		"No resource r configuration for this node (acceptable node names: hasta, hasta.example.org)"},
	{"second resource lacks this node", "resource r {\n\ton hasta { local /l remote x }\n}\n\nresource s {\n\ton hastb { local /l remote x }\n\n}\n",
		"", 8, "}", "No resource s configuration for this node"},

	// The cluster section.
	{"unknown cluster keyword", "cluster {\n\tquorum 2\n", "", 2, "quorum", "syntax error: unknown keyword in the cluster section"},
	{"hast keyword in cluster", "cluster {\n\ttimeout 2\n", "", 2, "timeout", "timeout is not allowed in the cluster section"},
	{"two cluster sections", clusterOK + "\ncluster {\n}\n", "", 7, "cluster", "cluster section configured more than once (first at line 1)"},
	{"three data nodes", "cluster {\n\ton hasta { raft a:1 gossip a:2 statedir /s }\n\ton hastb { raft b:1 gossip b:2 statedir /s }\n" +
		"\ton hastc { raft c:1 gossip c:2 statedir /s }\n", "", 4, "hastc",
		"cluster section has more than two data nodes (hasta, hastb and hastc)"},
	{"one data node", inCluster("\ton hasta { raft a:1 gossip a:2 statedir /s }\n\twitness w { raft w:1 gossip w:2 statedir /s }\n"),
		"", 4, "}", "cluster section needs two data nodes (on NODE { ... }), found 1"},
	{"missing witness", inCluster("\ton hasta { raft a:1 gossip a:2 statedir /s }\n\ton hastb { raft b:1 gossip b:2 statedir /s }\n"),
		"", 4, "}", "witness not configured in the cluster section"},
	{"two witnesses", inCluster("\twitness w { raft w:1 gossip w:2 statedir /s }\n\twitness v {\n"), "", 3, "witness",
		"witness configured more than once in the cluster section"},
	{"bad duration", inCluster("\tlease 3x\n"), "", 2, "3x", "invalid lease duration"},
	{"duration without unit", inCluster("\tlease 3\n"), "", 2, "3", "invalid lease duration"},
	{"lease 0", inCluster("\n\tlease 0\n"), "", 3, "0", "lease must be positive"},
	{"negative lease", inCluster("\tlease -1s\n"), "", 2, "-1s", "lease must be positive"},
	{"setting twice", inCluster("\tlease 1s\n\tlease 2s\n"), "", 3, "lease", "lease configured more than once in the cluster section"},
	{"gossip key not hex", inCluster("\tgossip-key 0x00112233445566778899aabbccddeeff\n"), "", 2,
		"0x00112233445566778899aabbccddeeff", "gossip-key is not hexadecimal"},
	{"gossip key too short", inCluster("\tgossip-key 00112233\n"), "", 2, "00112233", "gossip-key must be 16, 24 or 32 bytes, not 4"},
	{"tls-cert without key", "cluster {\n\ttls-cert /c\n\ttls-ca /ca\n" + clusterOK[len("cluster {\n"):], "", 2, "tls-cert",
		"tls-cert, tls-key and tls-ca must be given together (missing tls-key)"},
	{"tls-key alone", "cluster {\n\n\ttls-key /k\n" + clusterOK[len("cluster {\n"):], "", 3, "tls-key",
		"(missing tls-cert and tls-ca)"},
	{"bad on-no-quorum", inCluster("\ton-no-quorum panic\n"), "", 2, "panic", "syntax error: on-no-quorum must be suspend or error"},
	{"bad profile", inCluster("\tprofile wan\n"), "", 2, "wan", "syntax error: profile must be lan or fast"},
	{"bad failover", inCluster("\tfailover yes\n"), "", 2, "yes", "syntax error: failover must be on or off"},
	{"data node without raft", inCluster("\ton hasta {\n\t\tgossip a:2\n\t\tstatedir /s\n\t}\n"), "", 5, "}",
		"raft address not configured for cluster node hasta"},
	{"witness without statedir", inCluster("\twitness w { raft w:1 gossip w:2 }\n"), "", 2, "}",
		"statedir not configured for witness w"},
	{"control in data node", inCluster("\ton hasta {\n\t\tcontrol /x\n"), "", 3, "control",
		"syntax error: control is only allowed in the witness section"},
	{"witness tcp control", inCluster("\twitness w {\n\t\tcontrol tcp://1.2.3.4:5\n"), "", 3, "tcp://1.2.3.4:5",
		"witness control must be a unix socket path"},
	{"unknown node keyword", inCluster("\ton hasta { raft a:1 port 3 }\n"), "", 2, "port", "unknown keyword in cluster node hasta"},
	{"node keyword twice", inCluster("\ton hasta {\n\t\tstatedir /a\n\t\tstatedir /b\n"), "", 4, "statedir",
		"statedir configured more than once for cluster node hasta"},
	{"raft without port", inCluster("\ton hasta { raft a }\n"), "", 2, "a", "invalid raft address: want host:port"},
	{"raft port 0", inCluster("\ton hasta { raft a:0 }\n"), "", 2, "a:0", `invalid raft address: port "0" is not a number from 1 to 65535`},
	{"raft bad host", inCluster("\ton hasta { raft a/b:1 }\n"), "", 2, "a/b:1", `invalid raft address: invalid host name "a/b"`},
	{"duplicate raft address", inCluster("\ton hasta { raft a:1 gossip a:2 statedir /s }\n\ton hastb {\n\t\traft a:1\n"), "", 4, "a:1",
		"raft address a:1 is already the raft address of cluster node hasta"},
	{"gossip equals raft", inCluster("\ton hasta { raft a:1 gossip a:2 statedir /s }\n\twitness w { gossip a:01 }\n"), "", 3, "a:01",
		"gossip address a:1 is already the raft address of cluster node hasta"},
	{"relative statedir", inCluster("\ton hasta { statedir var/db }\n"), "", 2, "var/db", "statedir must be an absolute path"},
	{"duplicate node name", inCluster("\ton hasta { raft a:1 gossip a:2 statedir /s }\n\twitness hasta {\n"), "", 3, "hasta",
		"cluster node hasta configured more than once"},
	{"host not in cluster", clusterOK, "hastc", 5, "}", "No cluster configuration for this node (acceptable node names: hastc)"},
	{"host is two cluster nodes", `cluster {
	on hasta { raft a:1 gossip a:2 statedir /s }
	on hasta.example.org { raft b:1 gossip b:2 statedir /s }
	witness w { raft w:1 gossip w:2 statedir /s }
}
`, "", 3, "hasta.example.org", "cluster nodes hasta and hasta.example.org both name this host"},
	{"cluster node not in resource", "resource r {\n\tlocal /l\n\ton hasta { remote b }\n}\n" + clusterOK, "", 4, "}",
		"Resource r has no configuration for cluster node hastb"},
	{"resource node not a cluster node", "resource r {\n\tlocal /l\n\ton hasta { remote b }\n\ton hastc { remote a }\n}\n" + clusterOK,
		"", 4, "hastc", "Resource r: hastc is not a data node of the cluster (data nodes: hasta, hastb)"},
	{"resource node twice in cluster mode", "resource r {\n\tlocal /l\n\ton hasta { remote b }\n\ton hastb { remote a }\n\ton hasta { }\n}\n" + clusterOK,
		"", 5, "hasta", "Resource r: node hasta configured more than once"},
	{"other data node lacks remote", "resource r {\n\tlocal /l\n\ton hasta { remote b }\n\ton hastb { }\n}\n" + clusterOK,
		"", 5, "}", "Remote address not configured for resource r on node hastb"},
	{"witness still checks resources", "resource r {\n\ton hasta { remote b local /a }\n\ton hastb { remote a }\n}\n" + clusterOK,
		"hastw", 4, "}", "Path to local component not configured for resource r on node hastb"},
}

func TestMalformed(t *testing.T) {
	if len(malformed) < 30 {
		t.Fatalf("only %d malformed configurations", len(malformed))
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if host == "" {
				host = "hasta.example.org"
			}
			cfg, err := bothFamilies.Parse("test.conf", []byte(tt.src), Identity{Hostname: host})
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			prefix := fmt.Sprintf("test.conf:%d: ", tt.line)
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(e.Msg, tt.msg) || e.Near != tt.near {
				t.Errorf("error = %s\nwant prefix %q, message containing %q, near %q", err, prefix, tt.msg, tt.near)
			}
		})
	}
}
