package ggate

import (
	"math/bits"
	"sync"
)

// Buffer size classes: powers of two from 4 KiB to 1 GiB (maxMaxRequest).
const (
	minBufShift = 12
	maxBufShift = 30
)

// bufPool hands out data buffers for requests and replies from one sync.Pool
// per power-of-two size class, so the hot path does not allocate. Pools hold
// *[]byte so that Put does not allocate either.
type bufPool struct {
	classes [maxBufShift - minBufShift + 1]sync.Pool
}

// buffers is shared by every server: buffer sizes depend only on requests.
var buffers bufPool

// bufClass returns the size class holding buffers of n bytes, 0 < n <= 1 GiB.
func bufClass(n int) int {
	shift := bits.Len(uint(n - 1))
	return max(shift, minBufShift) - minBufShift
}

// get returns a buffer of length n, 0 < n <= 1 GiB, with unspecified content.
func (p *bufPool) get(n int) *[]byte {
	class := bufClass(n)
	if v := p.classes[class].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(class+minBufShift))
	return &b
}

// put returns a buffer obtained from get.
func (p *bufPool) put(b *[]byte) {
	p.classes[bufClass(cap(*b))].Put(b)
}
