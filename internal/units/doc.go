// Package units formats and parses byte counts the way FreeBSD's libutil
// does, so hastctl prints and accepts sizes exactly as HAST admins know them:
// Humanize mirrors humanize_number(3) with a 5-byte buffer, HN_AUTOSCALE and
// HN_DECIMAL|HN_NOSPACE (what hastctl list and dump print, e.g. "2.0M"), and
// ParseSize mirrors expand_number(3) (1024-based k, M, G, T, P, E suffixes).
package units
