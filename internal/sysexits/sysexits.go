package sysexits

// Exit codes from sysexits(3), as hastctl and hastd return them.
const (
	OK          = 0  // successful termination
	Usage       = 64 // EX_USAGE: command line usage error
	DataErr     = 65 // EX_DATAERR: data format error, e.g. an unknown resource
	NoInput     = 66 // EX_NOINPUT: cannot open input, e.g. the provider
	Unavailable = 69 // EX_UNAVAILABLE: service unavailable, e.g. hastd does not answer
	Software    = 70 // EX_SOFTWARE: internal software error, e.g. hastd returned an error
	OSErr       = 71 // EX_OSERR: system error, e.g. the control socket cannot be set up
	OSFile      = 72 // EX_OSFILE: critical OS file missing, e.g. the configuration file
	IOErr       = 74 // EX_IOERR: input/output error, e.g. metadata cannot be read or written
	TempFail    = 75 // EX_TEMPFAIL: temporary failure, e.g. another hastd holds the pidfile
	Config      = 78 // EX_CONFIG: configuration error
)
