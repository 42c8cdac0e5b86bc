package main

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// A generated payload carries everything a receiver needs to check it:
//
//	[0]      codec byte: a VP8 payload descriptor (0x10 = start of a frame's
//	         first partition, 0x00 = continuation) or an Opus TOC byte
//	[1:3]    magic 0xBE 0x4C
//	[3:5]    source id (which stream this is)
//	[5:9]    sequence number of the source (not the RTP one)
//	[9:17]   send time, nanoseconds since the generator started
//	[17:n-4] filler derived from the sequence number
//	[n-4:n]  CRC-32 (IEEE) of everything before it
//
// Sender and receivers live in one process, so send and receive times come
// from the same monotonic clock.
const (
	payloadHeader  = 17
	payloadTrailer = 4
	minPayload     = payloadHeader + payloadTrailer
	magic0, magic1 = 0xBE, 0x4C
	opusTOC        = 0x78 // config 15 (hybrid, fullband, 20 ms), mono, one frame
)

// epoch is the generator's clock origin.
var epoch = time.Now()

// nowNs is the time since epoch on the monotonic clock.
func nowNs() int64 { return int64(time.Since(epoch)) }

// fillPayload writes a checkable payload of len(b) >= minPayload bytes.
func fillPayload(b []byte, codec byte, src uint16, seq uint32, sent int64) {
	b[0] = codec
	b[1], b[2] = magic0, magic1
	binary.BigEndian.PutUint16(b[3:5], src)
	binary.BigEndian.PutUint32(b[5:9], seq)
	binary.BigEndian.PutUint64(b[9:17], uint64(sent))
	body := b[payloadHeader : len(b)-payloadTrailer]
	x := byte(seq*131 + uint32(src))
	for i := range body {
		body[i] = x + byte(i)
	}
	binary.BigEndian.PutUint32(b[len(b)-payloadTrailer:], crc32.ChecksumIEEE(b[:len(b)-payloadTrailer]))
}

// checkPayload verifies a payload and returns its source, sequence number
// and send time; ok is false for anything fillPayload did not write.
func checkPayload(b []byte) (src uint16, seq uint32, sent int64, ok bool) {
	if len(b) < minPayload || b[1] != magic0 || b[2] != magic1 {
		return 0, 0, 0, false
	}
	want := binary.BigEndian.Uint32(b[len(b)-payloadTrailer:])
	if crc32.ChecksumIEEE(b[:len(b)-payloadTrailer]) != want {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint16(b[3:5]), binary.BigEndian.Uint32(b[5:9]),
		int64(binary.BigEndian.Uint64(b[9:17])), true
}
