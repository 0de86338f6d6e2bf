// Package sysexits holds the sysexits(3) exit codes that FreeBSD's hastd and
// hastctl use, so every binary exits with the code a HAST admin expects.
package sysexits
