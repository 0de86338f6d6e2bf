package replicator

import (
	"fmt"
	"net"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// handshakeTimeout bounds the secondary's side of a handshake, as HAST's
// fixed 20 s on accepted connections.
const handshakeTimeout = 20 * time.Second

// ReadHello reads the Hello that opens a replication connection, within
// timeout. hastd's listener calls it to learn which resource the primary
// wants before handing the connection and the returned Decoder (which may
// hold buffered bytes) to that resource's Secondary, or refusing it.
func ReadHello(conn net.Conn, timeout time.Duration) (*wire.Hello, *wire.Decoder, error) {
	dec, err := wire.NewDecoder(conn, wire.Params{MaxIO: wire.HardMaxIO})
	if err != nil {
		return nil, nil, err
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	h, err := dec.ReadHello()
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		return nil, nil, fmt.Errorf("read hello from %s: %w", conn.RemoteAddr(), err)
	}
	return h, dec, nil
}

// Refuse answers a Hello with a Welcome refusing it for code, explained by
// the formatted message, and closes the connection.
func Refuse(conn net.Conn, code wire.WelcomeCode, format string, args ...any) error {
	return refuse(conn, &wire.Welcome{Code: code, Message: fmt.Sprintf(format, args...)})
}

// RefuseWait refuses a Hello because this node is still primary for the
// resource; the primary retries for a while (HAST's "wait").
func RefuseWait(conn net.Conn, format string, args ...any) error {
	return refuse(conn, &wire.Welcome{Code: wire.WelcomeRoleMismatch, Wait: true, Message: fmt.Sprintf(format, args...)})
}

func refuse(conn net.Conn, w *wire.Welcome) error {
	defer conn.Close()
	w.Version = wire.MaxVersion
	if len(w.Message) > wire.MaxMessageLen {
		w.Message = w.Message[:wire.MaxMessageLen]
	}
	enc, err := wire.NewEncoder(conn, wire.Params{})
	if err != nil {
		return err
	}
	conn.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	if err := enc.WriteWelcome(w); err != nil {
		return fmt.Errorf("refuse %s: %w", conn.RemoteAddr(), err)
	}
	return nil
}
