// Package daemonize turns a foreground server into a daemon the way hastd
// and hast-witness need it, since a Go program cannot fork: Start re-runs
// the program with -F in a new session, its standard streams on /dev/null
// and a readiness pipe as descriptor 3, and relays what the daemon reports
// there until it is ready or exits; the daemon finds that pipe with
// ChildPipe. Syslog gives the daemon a slog logger writing to syslog at
// each record's priority.
package daemonize
