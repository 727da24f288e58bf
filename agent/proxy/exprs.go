package proxy

import (
	"encoding/binary"
	"net"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The nftables expressions the table is made of, each named after the nft
// syntax it compiles to. Registers: 1 is the 16-byte NFT_REG_1, whose first
// 32-bit slot is register 8; concatenations load field after field into 8,
// 9, 10 ... (the register numbers nft itself uses).
const (
	reg32_9  = 9
	reg32_10 = 10
)

// ipProtoPortKey loads `ip daddr . meta l4proto . th dport` (or saddr, by
// offset) as a concatenated key into register 1.
func ipProtoPortKey(offset uint32) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg32_9},
		&expr.Payload{DestRegister: reg32_10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

// protoPortKey loads `meta l4proto . th dport` into register 1.
func protoPortKey() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: reg32_9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

// vmapLookup is `vmap @name` on register 1.
func vmapLookup(name string) expr.Any {
	return &expr.Lookup{SourceRegister: 1, SetName: name, DestRegister: 0, IsDestRegSet: true}
}

// ipProtoPort is the key of an ipv4_addr . inet_proto . inet_service map:
// each field padded to 4 bytes.
func ipProtoPort(ip net.IP, proto uint8, port uint16) []byte {
	k := make([]byte, 12)
	copy(k[0:4], ip.To4())
	k[4] = proto
	binary.BigEndian.PutUint16(k[8:10], port)
	return k
}

// protoPort is the key of an inet_proto . inet_service map.
func protoPort(proto uint8, port uint16) []byte {
	k := make([]byte, 8)
	k[0] = proto
	binary.BigEndian.PutUint16(k[4:6], port)
	return k
}

func jump(chain string) expr.Any {
	return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}
}

// ctStateNew is `ct state new`.
func ctStateNew() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// fibDaddrLocal is `fib daddr type local`.
func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// notLoopbackDaddr is `ip daddr != 127.0.0.0/8`.
func notLoopbackDaddr() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{127, 0, 0, 0}},
	}
}

func l4proto(p uint8) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func loadSaddr() expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

// saddrDaddrKey loads `ip saddr . ip daddr` into register 1.
func saddrDaddrKey() []expr.Any {
	return []expr.Any{
		loadSaddr(),
		&expr.Payload{DestRegister: reg32_9, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
	}
}

// daddrIs is `ip daddr IP`.
func daddrIs(ip net.IP) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.To4()},
	}
}

// saddrNotIn is `ip saddr != NET`.
func saddrNotIn(n *net.IPNet) []expr.Any {
	return []expr.Any{
		loadSaddr(),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(n.Mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: n.IP.To4()},
	}
}

// setMark is `meta mark set meta mark | bit`.
func setMark(bit uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^bit), Xor: binaryutil.NativeEndian.PutUint32(bit)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// markSet is `meta mark & bit != 0`.
func markSet(bit uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bit), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// oifnameNot is `oifname != NAME`.
func oifnameNot(name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: b},
	}
}

// dnat is `dnat to IP:PORT`.
func dnat(ip net.IP, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: ip.To4()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
			RegAddrMin: 1, RegAddrMax: 1, RegProtoMin: 2, RegProtoMax: 2, Specified: true},
	}
}

func nativeUint32(v uint32) []byte {
	return binaryutil.NativeEndian.PutUint32(v)
}
