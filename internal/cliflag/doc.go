// Package cliflag adds to the standard flag package the two getopt(3)
// habits HAST's commands have: a flag counted each time it is given (-d, -dd
// and -d -d raise the debug level alike) and the log level that count sets.
package cliflag
