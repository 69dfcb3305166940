package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"dunix/net/clusterkey"
)

// caName is the subject of the cluster CA certificate.
const caName = "dunix cluster CA"

// Certificates carry a validity window that spans any clock a node may
// have: nodes boot without trusted time, and a leaf key lives only as long
// as the node's boot (a fresh key every start), so time is not what makes
// a certificate trustworthy here. verifyTime is the instant chains are
// checked at, inside the window, so that a node with a wrong clock still
// verifies its peers.
var (
	notBefore  = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter   = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	verifyTime = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Errors of authentication.
var (
	// ErrBadCertificate means the peer's certificate does not chain to
	// the cluster CA (the peer has another cluster key, or none).
	ErrBadCertificate = errors.New("peer certificate not issued by the cluster CA")
	// ErrWrongNode means the peer's certificate is valid but names
	// another node than the one dialed.
	ErrWrongNode = errors.New("peer certificate names another node")
)

// identity is this node's TLS material: the cluster CA (same on every
// node with the same key) and a leaf certificate for a fresh key.
type identity struct {
	pool *x509.CertPool
	cert tls.Certificate
}

// newIdentity derives the cluster CA from key and issues a certificate
// for name under it, for a new ed25519 key.
func newIdentity(key clusterkey.Key, name string) (*identity, error) {
	caKey := ed25519.NewKeyFromSeed(key.Derive(clusterkey.Transport, "", ed25519.SeedSize))
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("transport: cluster CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("transport: cluster CA certificate: %w", err)
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("transport: node key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("transport: serial: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("transport: node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("transport: node certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &identity{
		pool: pool,
		cert: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: priv, Leaf: leaf},
	}, nil
}

// verify checks that certs (the peer's chain, leaf first) chain to the
// cluster CA for usage, and returns the node name the leaf certifies.
func (id *identity) verify(certs []*x509.Certificate, usage x509.ExtKeyUsage) (string, error) {
	if len(certs) == 0 {
		return "", fmt.Errorf("%w: no certificate", ErrBadCertificate)
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         id.pool,
		Intermediates: inter,
		CurrentTime:   verifyTime,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCertificate, err)
	}
	if leaf.IsCA || leaf.Subject.CommonName == "" {
		return "", fmt.Errorf("%w: not a node certificate", ErrBadCertificate)
	}
	return leaf.Subject.CommonName, nil
}

// clientConfig is the TLS configuration for dialing node. The chain and
// the name are checked by verifyConnection (the standard hostname check
// does not apply: node names are not DNS names); onReject is told why a
// peer was refused.
func (id *identity) clientConfig(node string, onReject func(error)) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{id.cert},
		ServerName:         node,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			name, err := id.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
			if err == nil && name != node {
				err = fmt.Errorf("%w: dialed %q, certificate names %q", ErrWrongNode, node, name)
			}
			if err != nil {
				onReject(err)
			}
			return err
		},
	}
}

// serverConfig is the TLS configuration for accepted connections: a
// client certificate is required and must chain to the cluster CA.
func (id *identity) serverConfig(onReject func(error)) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.cert},
		ClientAuth:   tls.RequireAnyClientCert, // chain checked below
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := id.verify(cs.PeerCertificates, x509.ExtKeyUsageClientAuth)
			if err != nil {
				onReject(err)
			}
			return err
		},
	}
}
