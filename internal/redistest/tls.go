package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// ServerName is the DNS name in the test server's certificate.
const ServerName = "redis.restguard.test"

// writeTLS makes a CA, a server certificate (ServerName and 127.0.0.1)
// and a client certificate, all ECDSA P-256, valid for one hour.
func (s *Server) writeTLS(t testing.TB) {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	s.CAFile = s.writePEM(t, "ca.crt", "CERTIFICATE", caDER)
	s.ServerName = ServerName

	leaf := func(name string, serial int64, usage x509.ExtKeyUsage, server bool) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Minute),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.DNSNames = []string{ServerName}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if server {
			s.writePEM(t, "server.crt", "CERTIFICATE", der)
			s.writePEM(t, "server.key", "PRIVATE KEY", keyDER)
			return
		}
		s.ClientCertFile = s.writePEM(t, "client.crt", "CERTIFICATE", der)
		s.ClientKeyFile = s.writePEM(t, "client.key", "PRIVATE KEY", keyDER)
	}
	leaf(ServerName, 2, x509.ExtKeyUsageServerAuth, true)
	leaf("restguard", 3, x509.ExtKeyUsageClientAuth, false)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (s *Server) writePEM(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	return s.write(t, name, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
}
