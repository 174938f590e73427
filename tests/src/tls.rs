//! Certificates made at test time: a CA, a server certificate for
//! 127.0.0.1 and localhost, client certificates (good, expired, from a
//! CA the broker does not trust), written as PEM files, and lapin or raw
//! rustls clients that use them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// A certificate authority that signs what the tests need.
pub struct Ca {
    pub cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for 127.0.0.1 and localhost; `cn` tells
    /// certificates apart (rotation tests).
    pub fn server(&self, cn: &str) -> Issued {
        let mut p = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(p)
    }

    /// A client certificate with subject `O=Warren tests,CN=cn`.
    pub fn client(&self, cn: &str) -> Issued {
        self.client_valid(cn, false)
    }

    /// A client certificate that expired in 2021.
    pub fn expired_client(&self, cn: &str) -> Issued {
        self.client_valid(cn, true)
    }

    fn client_valid(&self, cn: &str, expired: bool) -> Issued {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        // rcgen starts with a CN; an empty name keeps the order pushed.
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(DnType::OrganizationName, "Warren tests");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        self.issue(p)
    }

    fn issue(&self, p: CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// A set of files for a broker and its clients, in `dir`:
/// `ca.pem`, `server.pem`/`server.key`, and client pairs
/// `guest`, `alice`, `expired` (CN guest, expired), `stranger` (CN guest,
/// signed by another CA).
pub struct Pki {
    pub dir: PathBuf,
    pub ca: Ca,
}

impl Pki {
    pub fn write(dir: &Path) -> Pki {
        Pki::write_with(dir, "Warren test CA")
    }

    /// [`Pki::write`] with a CA of another name.
    pub fn write_with(dir: &Path, ca_name: &str) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let ca = Ca::new(ca_name);
        let other = Ca::new("Some other CA");
        let put = |name: &str, issued: &Issued| {
            std::fs::write(dir.join(format!("{name}.pem")), &issued.cert_pem).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), &issued.key_pem).unwrap();
        };
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        put("server", &ca.server("warren-server"));
        put("guest", &ca.client("guest"));
        put("alice", &ca.client("alice"));
        put("expired", &ca.expired_client("guest"));
        put("stranger", &other.client("guest"));
        Pki {
            dir: dir.to_path_buf(),
            ca,
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Broker settings for these files: client certificates asked for and
    /// verified, not required.
    pub fn settings(&self) -> warren_server::tls::TlsSettings {
        warren_server::tls::TlsSettings {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            ca: Some(self.path("ca.pem")),
            verify_peer: true,
            fail_if_no_peer_cert: false,
        }
    }

    /// lapin's TLS settings: trust our CA, and present `client`'s
    /// certificate when given.
    pub fn lapin(&self, client: Option<&str>) -> lapin::tcp::OwnedTLSConfig {
        let read = |f: String| std::fs::read(self.path(&f)).unwrap();
        lapin::tcp::OwnedTLSConfig {
            identity: client.map(|c| lapin::tcp::OwnedIdentity::PKCS8 {
                pem: read(format!("{c}.pem")),
                key: read(format!("{c}.key")),
            }),
            cert_chain: Some(std::fs::read_to_string(self.path("ca.pem")).unwrap()),
        }
    }

    /// A rustls client trusting our CA, presenting `client`'s certificate
    /// when given.
    pub fn connector(&self, client: Option<&str>) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let ca = std::fs::read(self.path("ca.pem")).unwrap();
        for c in rustls_pemfile::certs(&mut &ca[..]) {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some(c) => {
                let pem = std::fs::read(self.path(&format!("{c}.pem"))).unwrap();
                let key = std::fs::read(self.path(&format!("{c}.key"))).unwrap();
                let chain = rustls_pemfile::certs(&mut &pem[..]).map(Result::unwrap).collect();
                let key = rustls_pemfile::private_key(&mut &key[..]).unwrap().unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

/// The leaf certificate a TLS server at `addr` presents, by DER.
pub async fn presented_certificate(
    connector: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
) -> Vec<u8> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}
